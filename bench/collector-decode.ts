/**
 * Isolates the collector's pure decode cost: NetFlow v5, v9 and IPFIX datagrams (built once by the
 * test encoder) decoded into flows on one thread, no socket, no output. Prints a table and writes
 * bench/results/collector-decode.json.
 *
 *   npm run bench:collector-decode [-- --seconds 3]
 */
import { runDecodeBench } from './lib/collector-decode.js';
import { benchArgs, printTable, resultsFile, writeResults } from './lib/report.js';

const secondsPerVersion = Number(benchArgs().get('seconds') ?? '3');
const rows = runDecodeBench({ secondsPerVersion });
printTable(rows);
writeResults(resultsFile('collector-decode.json'), rows, { secondsPerVersion, thread: 'one' });
