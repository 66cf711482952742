/**
 * One copy of the plain loop on a worker thread, for `runPlainLoopsSideBySide`: it waits for the
 * start signal, so that every copy starts together, then runs and posts its result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThemisArgs } from '../../bolts/components/themis-args.js';
import { runPlainLoop } from './plain-loop.js';

const { args, inputPath } = workerData as { args: ThemisArgs; inputPath: string };
const port = parentPort!;
port.once('message', () => {
  runPlainLoop(args, inputPath).then(
    (r) => port.postMessage({ ok: true, ...r }),
    (err: unknown) => port.postMessage({ ok: false, error: String(err instanceof Error ? err.stack : err) }),
  );
});
port.postMessage({ ready: true });
