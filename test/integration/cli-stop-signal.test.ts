import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';

/**
 * Stopping `themis-topology submit` on standard input with a signal while its input is still open:
 * the flows it has read are finished (held ones released unmatched, as at the end of the input)
 * and written, or it says how many were not and exits 3.
 */

interface Running {
  readonly child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

const running: Running[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const r of running.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'themis-stop-'));
  dirs.push(dir);
  return dir;
}

/** themis-topology on standard input, which stays open until the test ends it. */
function submitOnStdin(outputDir: string, extra: readonly string[] = []): Running {
  const child = spawnCli('themis-topology', ['submit', '1', '1', '100', '0', 'stop', '--input', '-', '--output-dir', outputDir, '--workers', '2', '--no-metrics-port', ...extra], { stdin: 'pipe' });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const r = { child, stderr: () => stderr, exited };
  running.push(r);
  return r;
}

/** Waits until what the program printed on stderr matches `pattern`; fails naming it after `timeoutMs`. */
async function printed(r: Running, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const started = Date.now();
  for (;;) {
    const m = r.stderr().match(pattern);
    if (m) return m;
    if (r.child.exitCode !== null) throw new Error(`exited (${r.child.exitCode}) before printing ${pattern}:\n${r.stderr().slice(-2000)}`);
    if (Date.now() - started > timeoutMs) throw new Error(`not printed within ${timeoutMs} ms: ${pattern}\n${r.stderr().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exitCode(r: Running, timeoutMs = 60_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms\n${r.stderr().slice(-2000)}`)), timeoutMs)));
  try {
    return await Promise.race([r.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP flow from a remote client to one of our servers, whose reverse never comes: match-flows holds it. */
function oneWayTcpFlow(id: number): string {
  return JSON.stringify({
    id,
    start_timestamp_unix_secs: 1704067200 + id,
    end_timestamp_unix_secs: 1704067201 + id,
    protocol: 6,
    src_ip: '203.0.113.130',
    src_port: 40000 + id,
    dst_ip: '192.0.2.10',
    dst_port: 443,
    packets: 3,
    bytes: 180,
    flags: '.A..S.',
  });
}

function scoredFlows(dir: string): Array<{ flow_id: number; pair_flow_id: number | null }> {
  const file = join(dir, 'scored-flows.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { flow_id: number; pair_flow_id: number | null });
}

const ids = [1, 2, 3, 4, 5, 6, 7, 8];

describe('themis-topology submit on standard input, stopped by a signal', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('on %s releases the held flows, writes every flow read exactly once, and exits 0', async (signal) => {
    const dir = tmp();
    const r = submitOnStdin(dir);
    r.child.stdin!.write(ids.map((id) => `${oneWayTcpFlow(id)}\n`).join(''));
    await printed(r, new RegExp(`themis: flows in ${ids.length} `));
    expect(scoredFlows(dir)).toEqual([]); // held for their reverse direction, which never comes

    r.child.kill(signal);
    expect(await exitCode(r), r.stderr()).toBe(0);
    const scored = scoredFlows(dir);
    expect(scored.map((s) => s.flow_id).sort((a, b) => a - b)).toEqual(ids);
    expect(scored.every((s) => s.pair_flow_id === null)).toBe(true);
    expect(r.stderr()).toContain(`themis: ${signal}: reading no more input`);
    expect(r.stderr()).toMatch(new RegExp(`themis: done in [\\d.]+ s: ${ids.length} lines .* ${ids.length} scored records`));
  });

  it('says how many flows read were not finished and exits 3 when they cannot be', async () => {
    const dir = tmp();
    // The scored output cannot be written (a directory stands where its file goes): the held flows,
    // released by the stop, wait there behind the output's open breaker until the drain's bound
    // (the message timeout, 2 s here) passes.
    mkdirSync(join(dir, 'scored-flows.jsonl'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ windows: { messageTimeoutSecs: 2, tickSecs: 1, joinWindowMs: 1000 } }));
    const r = submitOnStdin(dir, ['--append', '--config', config]);
    r.child.stdin!.write(ids.map((id) => `${oneWayTcpFlow(id)}\n`).join(''));
    await printed(r, new RegExp(`themis: flows in ${ids.length} `));

    r.child.kill('SIGINT');
    expect(await exitCode(r), r.stderr()).toBe(3);
    expect(r.stderr()).toContain(`themis-topology: stopped by SIGINT: ${ids.length} flow(s) read were not finished`);
  });
});
