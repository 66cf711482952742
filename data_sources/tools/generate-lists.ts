/**
 * Generates realistic-size IP block lists for benchmarks and reader tests: deterministic for a
 * given (count, seed), public-looking IPv4 addresses, notes drawn from a handful of feed
 * categories (so records repeat, as in real feeds).
 *
 * CLI: tsx data_sources/tools/generate-lists.ts --out-dir <dir> [--count 50000] [--seed 1]
 *      writes <dir>/blocklist-<count>-seed<seed>.csv (network,note) and the matching .dat (MMDB).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeMmdb } from './mmdb-writer.js';

export interface BlocklistRow {
  readonly network: string;
  readonly note: string;
}

const NOTES = [
  'Emerging Threats: compromised host',
  'Emerging Threats: known attacker',
  'AlienVault: Malicious Host',
  'AlienVault: Scanning Host',
  'AlienVault: Spamming',
  'botnet C&C',
  'SSH brute force',
  'Telnet/IoT scanner',
  'open proxy',
  'Tor exit node',
  'malware distribution',
  'phishing host',
];

/** Fixed so a generated list builds to the same bytes every time. */
export const GENERATED_BUILD_EPOCH_SECS = 1_704_067_200; // 2024-01-01T00:00:00Z

/** mulberry32: a small, fast, seedable PRNG; returns uint32s (tests draw from it too). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Not private, loopback, link-local, CGN, multicast or reserved: what a public feed lists. */
function isPublicUnicast(v4: number): boolean {
  const a = v4 >>> 24;
  const b = (v4 >>> 16) & 0xff;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 169 && b === 254) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 100 && b >= 64 && b <= 127) return false;
  return true;
}

const formatV4 = (v4: number): string => `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;

/**
 * `count` distinct IPv4 /32 rows plus one network row (a /16 to /28) per 50 hosts, interleaved.
 * Networks may contain listed hosts, as real feeds overlap.
 */
export function generateBlocklist(count: number, seed: number): BlocklistRow[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count (${count}) must be a non-negative integer`);
  const next = prng(seed);
  const rows: BlocklistRow[] = [];
  const hosts = new Set<number>();
  const networks = new Set<string>();
  while (hosts.size < count) {
    const v4 = next();
    if (!isPublicUnicast(v4) || hosts.has(v4)) continue;
    hosts.add(v4);
    rows.push({ network: formatV4(v4), note: NOTES[next() % NOTES.length]! });
    if (hosts.size % 50 === 0) {
      for (;;) {
        const prefix = 16 + (next() % 13);
        const base = (next() & (~0 << (32 - prefix))) >>> 0;
        const text = `${formatV4(base)}/${prefix}`;
        if (!isPublicUnicast(base) || networks.has(text)) continue;
        networks.add(text);
        rows.push({ network: text, note: NOTES[next() % NOTES.length]! });
        break;
      }
    }
  }
  return rows;
}

function csvField(text: string): string {
  return /[",]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function blocklistCsv(rows: readonly BlocklistRow[], count: number, seed: number): string {
  const header = [
    `# Generated block list: ${count} IPv4 hosts plus networks, seed ${seed}.`,
    '# Origin: data_sources/tools/generate-lists.ts (synthetic; for benchmarks and tests only).',
    '# Format: Themis IP list CSV, "network,note"; network is an address or CIDR.',
    'network,note',
  ];
  return `${[...header, ...rows.map((r) => `${r.network},${csvField(r.note)}`)].join('\n')}\n`;
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      'out-dir': { type: 'string' },
      count: { type: 'string', default: '50000' },
      seed: { type: 'string', default: '1' },
    },
  });
  const problems: string[] = [];
  const count = Number(values.count);
  const seed = Number(values.seed);
  if (values['out-dir'] === undefined) problems.push('--out-dir is required');
  if (!Number.isInteger(count) || count < 1) problems.push(`--count (${values.count}) must be a positive integer`);
  if (!Number.isInteger(seed)) problems.push(`--seed (${values.seed}) must be an integer`);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.exitCode = 1;
    return;
  }
  const outDir = resolve(values['out-dir']!);
  mkdirSync(outDir, { recursive: true });
  const rows = generateBlocklist(count, seed);
  const base = join(outDir, `blocklist-${count}-seed${seed}`);
  writeFileSync(`${base}.csv`, blocklistCsv(rows, count, seed));
  const built = writeMmdb(
    rows.map((r) => ({ network: r.network, record: { note: r.note } })),
    {
      databaseType: 'Themis-IP-List',
      description: `Generated block list, ${count} hosts, seed ${seed}`,
      buildEpochSecs: GENERATED_BUILD_EPOCH_SECS,
    },
  );
  writeFileSync(`${base}.dat`, built.bytes);
  process.stdout.write(`wrote ${base}.csv and ${base}.dat: ${rows.length} rows, ${built.nodeCount} nodes, ${built.bytes.length} bytes\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2));
}
