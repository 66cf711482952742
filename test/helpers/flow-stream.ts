import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { startCli, type BackgroundCli } from './background-cli.js';

/**
 * A topology reading a stream of flows on standard input, for tests of what happens while a
 * dependency is down: the flows keep coming at a set pace, and the test looks at the outputs and
 * the log as an operator would.
 */

/** Small windows, so that a root left to time out during a 10 s outage would certainly do so. */
export const OUTAGE_WINDOWS = { messageTimeoutSecs: 2, joinWindowMs: 1_000, matchWindowMs: 2_000, tickSecs: 1 };

/** An ICMP echo request from `srcIp` to one of ours (sample line 38): scored alone, never paired. */
export function icmpLine(id: number, srcIp: string): string {
  return JSON.stringify({
    id,
    start_timestamp_unix_secs: 1_710_234_055,
    end_timestamp_unix_secs: 1_710_234_055,
    protocol: 1,
    src_ip: srcIp,
    src_port: 0,
    dst_ip: '192.0.2.1',
    dst_port: 2048,
    packets: 1,
    bytes: 84,
    tos: 0,
  });
}

export interface Feed {
  /** Lines written so far. */
  sent(): number;
  /** Resolves once every line is written. */
  readonly done: Promise<void>;
}

/** Writes `count` lines to `stdin` at about `perSec` lines a second. */
export function feed(stdin: Writable, count: number, perSec: number, lineOf: (n: number) => string): Feed {
  let sent = 0;
  const done = (async () => {
    const started = Date.now();
    while (sent < count) {
      const due = Math.min(count, Math.floor(((Date.now() - started) / 1000) * perSec) + 10);
      let chunk = '';
      for (; sent < due; sent++) chunk += `${lineOf(sent)}\n`;
      if (chunk !== '') stdin.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { sent: () => sent, done };
}

/** The records of a JSON-lines output file (none when it does not exist). */
export function jsonLines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The run's closing summary for `lines` input lines with nothing failed and nothing replayed. */
export function summaryWithoutReplays(lines: number): RegExp {
  return new RegExp(`themis: done in [\\d.]+ s: ${lines.toLocaleString('en-US')} lines .*, 0 failed every retry, .* 0 replays \\(0 timeouts\\)`);
}

/** Starts `themis-topology submit` on standard input with OUTAGE_WINDOWS, 2 worker threads and file outputs in `dir`/out. */
export function startStreamTopology(name: string, dir: string, config: Record<string, unknown>, args: readonly string[]): { topology: BackgroundCli; out: string } {
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ windows: OUTAGE_WINDOWS, ...config }));
  const out = join(dir, 'out');
  const topology = startCli(
    'themis-topology',
    ['submit', '1', '1', '200', '0', name, '--input', '-', '--config', configFile, '--output-dir', out, '--no-metrics-port', '--workers', '2', ...args],
    { stdin: 'pipe' },
  );
  return { topology, out };
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `${label}-`));
}
