/**
 * `themis-topology` (the compiled CLI in dist/) run by a benchmark as its own process, as an
 * operator runs it: the benchmark's own garbage does not count in its resident size, which is
 * read from /proc (main thread and worker threads together). Its standard error is kept whole
 * until `keepTailOnly` (the start-up lines a benchmark waits for), then as its last lines only,
 * since a long run prints a progress line every 2 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TAIL_LINES = 200;

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class TopologyChild {
  private readonly child: ChildProcess;
  private head = '';
  private isHeadKept = true;
  private readonly tail: string[] = [];
  private partial = '';
  /** Lines logged at level error so far. */
  errorLines = 0;
  readonly exited: Promise<ChildExit>;

  constructor(args: readonly string[]) {
    const cli = fileURLToPath(new URL('../../bin/themis-topology.js', import.meta.url));
    this.child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => this.onStderr(text));
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code, signal) => resolve({ code, signal }));
    });
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Standard error from the start, while it is kept whole. */
  get startOfStderr(): string {
    return this.head;
  }

  /** The last lines of standard error. */
  lastLines(n = 40): string {
    return this.tail.slice(-n).join('\n');
  }

  /** From here on only the last lines are kept. */
  keepTailOnly(): void {
    this.isHeadKept = false;
    this.head = '';
  }

  /** Resident size, MB; null once the process has gone. */
  residentMb(): number | null {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
      return m ? Math.round(Number(m[1]) / 1024) : null;
    } catch {
      return null; // it has just exited: the caller sees that from `exited`
    }
  }

  /** Sends `signal`, then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ChildExit> {
    if (!this.isRunning) return this.exited;
    this.child.kill(signal);
    const late = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(late);
    }
  }

  private onStderr(text: string): void {
    if (this.isHeadKept) this.head += text;
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      if (line.includes('"level":"error"')) this.errorLines++;
      this.tail.push(line);
    }
    if (this.tail.length > 2 * TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
  }
}
