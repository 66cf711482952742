/**
 * Isolates the cost of handing tuples to another thread, three ways, to justify why the engine owns
 * its worker threads instead of submitting work to a piscina pool: a piscina task per tuple (the
 * pool's model: stateless calls with a result), a postMessage per tuple, and our batches of 512 over
 * a MessagePort. Prints a table and writes bench/results/worker-hop.json.
 *
 *   npm run bench:hop
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { printTable, resultsFile, writeResults } from './lib/report.js';

const N = 200_000;
const tuple = (i: number) => [i, 'payload'];

async function piscinaPerTuple(): Promise<number> {
  const pool = new Piscina({ filename: new URL('./components/echo-task.js', import.meta.url).href, minThreads: 1, maxThreads: 1 });
  for (let i = 0; i < 1000; i++) await pool.run(tuple(i)); // warm-up
  const t0 = performance.now();
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < N; i++) {
    inFlight.push(pool.run(tuple(i)));
    if (inFlight.length >= 1024) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  const rate = N / ((performance.now() - t0) / 1000);
  await pool.destroy();
  return rate;
}

/** A worker that counts tuples and reports when it has seen `n`. */
function counter(): Worker {
  return new Worker(
    `const { parentPort } = require('node:worker_threads');
     let port; let seen = 0; let want = 0;
     parentPort.on('message', (m) => {
       if (m.port) { port = m.port; want = m.n; port.on('message', (b) => { seen += Array.isArray(b) && Array.isArray(b[0]) ? b.length : 1; if (seen >= want) parentPort.postMessage('done'); }); }
     });`,
    { eval: true },
  );
}

async function overPort(batch: number): Promise<number> {
  const w = counter();
  const { port1, port2 } = new MessageChannel();
  const done = new Promise((r) => w.once('message', r));
  w.postMessage({ port: port2, n: N }, [port2]);
  const t0 = performance.now();
  if (batch === 1) for (let i = 0; i < N; i++) port1.postMessage(tuple(i));
  else for (let i = 0; i < N; i += batch) port1.postMessage(Array.from({ length: batch }, (_, k) => tuple(i + k)));
  await done;
  const rate = N / ((performance.now() - t0) / 1000);
  port1.close();
  await w.terminate();
  return rate;
}

const runs = [
  { method: 'piscina task per tuple', tuplesPerSec: Math.round(await piscinaPerTuple()) },
  { method: 'postMessage per tuple', tuplesPerSec: Math.round(await overPort(1)) },
  { method: 'batches of 512 (the engine)', tuplesPerSec: Math.round(await overPort(512)) },
];
printTable(runs);
writeResults(resultsFile('worker-hop.json'), runs, { tuples: N });
