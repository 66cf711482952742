import type { ChildProcess } from 'node:child_process';
import { spawnCli, type CliResult } from './cli.js';

/** How the program ended: its exit code, or the signal that killed it (code null). */
export interface BackgroundResult extends CliResult {
  readonly signal: NodeJS.Signals | null;
}

/** One of our programs running in the background, for tests that signal it or watch it while it runs. */
export interface BackgroundCli {
  readonly child: ChildProcess;
  /** What it has printed on stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited and its pipes are closed. */
  readonly exited: Promise<BackgroundResult>;
  /** Waits for the exit; SIGKILL if it is still running after `timeoutMs`, and the wait then rejects. */
  waitForExit(timeoutMs?: number): Promise<BackgroundResult>;
  /** Sends `signal` and waits for the exit as waitForExit does. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<BackgroundResult>;
}

/**
 * Starts a program as runCli does, but returns at once; for the topology, its worker threads die
 * with it on SIGKILL. With `stdin: 'pipe'` the test writes the program's standard input through
 * `child.stdin` and ends it when it chooses (a stream that stays open); by default there is none.
 */
export function startCli(program: string, args: readonly string[], options: { env?: Record<string, string>; stdin?: 'pipe' | 'ignore' } = {}): BackgroundCli {
  const child = spawnCli(program, args, { ...(options.env ? { env: options.env } : {}), stdin: options.stdin ?? 'ignore' });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<BackgroundResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const waitForExit = async (timeoutMs: number, after: string): Promise<BackgroundResult> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${program} did not exit within ${timeoutMs} ms${after}; killed it\n${stderr.slice(-2000)}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([exited, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    child,
    stderr: () => stderr,
    exited,
    waitForExit: (timeoutMs = 30_000) => waitForExit(timeoutMs, ''),
    stop(signal, timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return waitForExit(timeoutMs, ` of ${signal}`);
    },
  };
}

