import { Worker } from 'node:worker_threads';
import type { ThemisArgs } from '../../bolts/components/themis-args.js';

export interface SideBySide {
  readonly threads: number;
  /** Flows of every copy together, over the time the slowest copy took. */
  readonly flowsPerSec: number;
  /** Each copy's own rate. */
  readonly perThreadFlowsPerSec: number[];
}

interface Result {
  readonly ok: boolean;
  readonly flows: number;
  readonly seconds: number;
  readonly flowsPerSec: number;
  readonly error?: string;
}

/**
 * The plain loop run `threads` times at once, each copy on a worker thread of its own over the whole
 * input, with nothing shared between them: what the machine's cores give the same per-flow work
 * when no engine links them. This is the ceiling of any topology on those threads; the target's
 * `threads x plain loop` assumes it is reached with perfect scaling.
 */
export async function runPlainLoopsSideBySide(threads: number, argsOf: (i: number) => ThemisArgs, inputPath: string): Promise<SideBySide> {
  const workers = Array.from({ length: threads }, (_, i) => new Worker(new URL('./plain-loop-worker.js', import.meta.url), { workerData: { args: argsOf(i), inputPath } }));
  try {
    const ready = workers.map((w) => new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    }));
    await Promise.all(ready);
    const results = workers.map((w) => new Promise<Result>((resolve, reject) => {
      w.once('message', (m: Result) => resolve(m));
      w.once('error', reject);
    }));
    for (const w of workers) w.postMessage('start');
    const done = await Promise.all(results);
    const failed = done.find((r) => !r.ok);
    if (failed) throw new Error(`a plain loop copy failed: ${failed.error}`);
    const flows = done.reduce((s, r) => s + r.flows, 0);
    const slowest = Math.max(...done.map((r) => r.seconds));
    return { threads, flowsPerSec: Math.round(flows / slowest), perThreadFlowsPerSec: done.map((r) => r.flowsPerSec) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
