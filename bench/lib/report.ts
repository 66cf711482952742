import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';

/** The machine a figure was measured on: a number quoted without its hardware is not quoted. */
export function machineInfo(): Record<string, unknown> {
  let commit: string;
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    commit = 'not a git checkout';
  }
  return { commit, node: process.version, cpuModel: cpus()[0]?.model ?? 'unknown', cores: cpus().length, date: new Date().toISOString() };
}

export function printTable(rows: ReadonlyArray<Record<string, unknown>>): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(2)) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i]!)).join('  ');
  console.log(line(cols));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

export function writeResults(path: string, runs: unknown[], extra: Record<string, unknown> = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ machine: machineInfo(), ...extra, runs }, null, 2)}\n`);
  console.log(`\nwrote ${path}`);
}

/** The `--name value` pairs of the command line. */
export function benchArgs(): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
  return args;
}

/** `bench/results/<file>` in the source tree, whether the benchmark runs from bench/ or dist/bench/. */
export function resultsFile(file: string): string {
  return new URL(`../results/${file}`, import.meta.url).pathname.replace('/dist/bench/', '/bench/');
}
