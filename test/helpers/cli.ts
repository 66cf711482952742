import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts one of our command-line programs from its TypeScript source, as a user would run it. The
 * node process is the program itself (no shell in between), so a signal reaches it.
 */
export function spawnCli(program: string, args: readonly string[], options: { env?: Record<string, string>; stdin: 'pipe' | 'ignore' }): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', `${root}bin/${program}.ts`, ...args], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin, 'pipe', 'pipe'],
  });
}

/** Runs one of our command-line programs to its end and gives what it printed. */
export function runCli(program: string, args: readonly string[], options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(program, args, { ...(options.env ? { env: options.env } : {}), stdin: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${program} ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\n${stderr.slice(-2000)}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}
