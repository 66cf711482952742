import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * Operator errors at start (issue 13): the output directory and every data file are checked in
 * the main thread before any worker starts; each problem is one line naming the file and what is
 * wrong, the exit code is 2, and no stack trace is printed unless --verbose asks for it.
 */
const DATA = fileURLToPath(new URL('../../data_sources/', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'themis-start-'));

/** A copy of the data files, with `change` applied to it. */
function dataDir(change: (dir: string) => void): string {
  const dir = tmp();
  for (const name of readdirSync(DATA)) if (/\.(txt|dat|csv|mmdb|jsonl)$/.test(name)) copyFileSync(join(DATA, name), join(dir, name));
  change(dir);
  return dir;
}

async function submit(extra: string[]) {
  // Bounded: before this check, an output directory under /proc hung the run forever.
  const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'start', '--no-metrics-port', '--workers', '1', ...extra], { timeoutMs: 30_000 });
  return { code: r.code, lines: r.stderr.split('\n').filter((l) => l !== ''), stderr: r.stderr };
}

const STACK_FRAME = /^\s+at /m;

describe('themis-topology submit: start checks', () => {
  it('refuses an output directory that cannot be created (under /proc) at once, in one line', async () => {
    const r = await submit(['--output-dir', '/proc/themis-x']);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(['themis-topology: --output-dir /proc/themis-x: cannot create it (ENOENT)']);
  });

  it('refuses an output path that is a regular file, or lies under one, in one line', async () => {
    const file = join(tmp(), 'out');
    writeFileSync(file, '');
    let r = await submit(['--output-dir', file]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([`themis-topology: --output-dir ${file}: is a file, not a directory`]);
    r = await submit(['--output-dir', join(file, 'sub')]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([`themis-topology: --output-dir ${join(file, 'sub')}: ${file} is a file, not a directory`]);
  });

  it.each([
    ['a truncated .mmdb', 'GeoLite2-City.mmdb', (file: string) => writeFileSync(file, readFileSync(file).subarray(0, 1000)), 'no MaxMind DB metadata marker'],
    ['an empty ASN file', 'asn.txt', (file: string) => writeFileSync(file, ''), 'no ASNs listed'],
    ['a garbage list file', 'tcp_known_ports.txt', (file: string) => writeFileSync(file, '\u0001\u0002garbage\n'), 'not a decimal port'],
    ['a garbage IP list (an MMDB file)', 'active_hosts.dat', (file: string) => writeFileSync(file, 'garbage\n'), 'no MaxMind DB metadata marker'],
  ])('refuses %s in one line naming the file, with no stack trace', async (_what, name, spoil, reason) => {
    const data = dataDir((dir) => spoil(join(dir, name)));
    const r = await submit(['--data-dir', data, '--output-dir', join(tmp(), 'out')]);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain(join(data, name));
    expect(r.lines[0]).toContain(reason);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it('reports every problem at once, one line each, and the stack traces only with --verbose', async () => {
    const data = dataDir((dir) => {
      writeFileSync(join(dir, 'asn.txt'), '');
      writeFileSync(join(dir, 'GeoIPASNum.dat'), 'x');
    });
    const out = join(tmp(), 'out');
    writeFileSync(out, '');
    const r = await submit(['--data-dir', data, '--output-dir', out]);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      `themis-topology: --output-dir ${out}: is a file, not a directory`,
      expect.stringContaining(`${join(data, 'GeoIPASNum.dat')}: `),
      expect.stringContaining(`${join(data, 'asn.txt')}: no ASNs listed`),
    ]);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    const verbose = await submit(['--data-dir', data, '--output-dir', out, '--verbose']);
    expect(verbose.code).toBe(2);
    expect(verbose.lines.slice(0, 3)).toEqual(r.lines);
    expect(verbose.stderr).toMatch(STACK_FRAME);
  });
});
