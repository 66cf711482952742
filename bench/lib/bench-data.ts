/**
 * Builds a benchmark data directory: the sample universe (data_sources/) grown to realistic sizes,
 * so that the remote addresses flow-generator.ts draws resolve like real traffic does.
 *
 * - GeoIPASNum.dat (GeoLite2-ASN layout) and GeoLite2-City.mmdb: the sample networks, plus one
 *   network per /16 (by default) of every remote block the generator uses (remoteV4Blocks(),
 *   REMOTE_V6_FIRST_BLOCK..LAST_BLOCK), each with its own ASN and a country drawn per /12 with
 *   realistic weights (CN and RU, the suspect countries, about 14%). 198.16.0.0/12 stays out, so
 *   198.18.0.1 is still in no database. The sample's more specific networks win where they overlap.
 * - emerging_threats_ips.dat: the sample entries plus the generated block list
 *   (generateBlocklist, DEFAULT_BLOCKLIST: 50,000 hosts and 1,000 networks); alien_vault_reputation.dat:
 *   the sample entries plus the block-list rows whose note is an AlienVault one. Rows covering
 *   our 192.0.2.0/24 are left out (a listed network holding our hosts would tag every flow).
 * - intelmq-events.jsonl: the sample events plus `intelEvents` generated events for the first
 *   (most often drawn) block-list hosts.
 * - every other file (text lists, active_hosts.dat, ndpi_good.dat) copied unchanged.
 *
 * A benchmark points `--data-dir` at the returned directory. Building takes a few seconds (the
 * MMDB writer), so build once per benchmark run.
 *
 * CLI: npx tsx bench/lib/bench-data.ts --out-dir DIR [--prefix-length 16] [--intel-events 2000]
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateBlocklist, GENERATED_BUILD_EPOCH_SECS, type BlocklistRow } from '../../data_sources/tools/generate-lists.js';
import { mmdbDouble, mmdbUint32, writeMmdb, type MmdbEntry } from '../../data_sources/tools/mmdb-writer.js';
import { formatCsvError, parseNetworkCsv } from '../../data_sources/tools/network-csv.js';
import { DEFAULT_BLOCKLIST, REMOTE_V6_FIRST_BLOCK, REMOTE_V6_LAST_BLOCK, remoteV4Blocks, writeFlowsFile } from './flow-generator.js';

/** data_sources/ of the package, from the sources or from the compiled copy in dist/. */
const DATA_DIR = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'data_sources');
})();

/** Copied unchanged. */
const COPIED_FILES = [
  'asn.txt',
  'valid_protocols.txt',
  'ignore_honeyport_ports.txt',
  'tcp_insecure_ports.txt',
  'udp_insecure_ports.txt',
  'tcp_known_ports.txt',
  'udp_known_ports.txt',
  'known_host_services.csv',
  'suspect_countries.csv',
  'active_hosts.dat',
  'ndpi_good.dat',
];

export interface BenchDataOptions {
  /** Prefix length of the generated remote networks: 12 (coarse) to 20 (many networks). */
  readonly prefixLength?: number;
  readonly blocklist?: { readonly count: number; readonly seed: number };
  /** Generated IntelMQ events appended to the sample ones. */
  readonly intelEvents?: number;
}

interface Country {
  readonly code: string;
  readonly name: string;
  readonly city: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly weight: number;
}

// Weights roughly follow where Internet hosts are; cities are illustrative, not MaxMind data.
const COUNTRIES: readonly Country[] = [
  { code: 'US', name: 'United States', city: 'Ashburn', latitude: 39.0438, longitude: -77.4874, weight: 28 },
  { code: 'CN', name: 'China', city: 'Beijing', latitude: 39.9042, longitude: 116.4074, weight: 9 },
  { code: 'DE', name: 'Germany', city: 'Frankfurt am Main', latitude: 50.1109, longitude: 8.6821, weight: 7 },
  { code: 'RU', name: 'Russia', city: 'Moscow', latitude: 55.7558, longitude: 37.6173, weight: 5 },
  { code: 'GB', name: 'United Kingdom', city: 'London', latitude: 51.5072, longitude: -0.1276, weight: 5 },
  { code: 'JP', name: 'Japan', city: 'Tokyo', latitude: 35.6762, longitude: 139.6503, weight: 5 },
  { code: 'BR', name: 'Brazil', city: 'Sao Paulo', latitude: -23.5558, longitude: -46.6396, weight: 5 },
  { code: 'IN', name: 'India', city: 'Mumbai', latitude: 19.076, longitude: 72.8777, weight: 5 },
  { code: 'FR', name: 'France', city: 'Paris', latitude: 48.8566, longitude: 2.3522, weight: 4 },
  { code: 'NL', name: 'Netherlands', city: 'Amsterdam', latitude: 52.3676, longitude: 4.9041, weight: 4 },
  { code: 'KR', name: 'South Korea', city: 'Seoul', latitude: 37.5665, longitude: 126.978, weight: 3 },
  { code: 'CA', name: 'Canada', city: 'Toronto', latitude: 43.6532, longitude: -79.3832, weight: 3 },
  { code: 'ZA', name: 'South Africa', city: 'Cape Town', latitude: -33.9249, longitude: 18.4241, weight: 2 },
  { code: 'AU', name: 'Australia', city: 'Sydney', latitude: -33.8688, longitude: 151.2093, weight: 2 },
  { code: 'SG', name: 'Singapore', city: 'Singapore', latitude: 1.3521, longitude: 103.8198, weight: 2 },
  { code: 'IT', name: 'Italy', city: 'Milan', latitude: 45.4642, longitude: 9.19, weight: 2 },
  { code: 'ES', name: 'Spain', city: 'Madrid', latitude: 40.4168, longitude: -3.7038, weight: 2 },
  { code: 'PL', name: 'Poland', city: 'Warsaw', latitude: 52.2297, longitude: 21.0122, weight: 2 },
  { code: 'UA', name: 'Ukraine', city: 'Kyiv', latitude: 50.4501, longitude: 30.5234, weight: 2 },
  { code: 'VN', name: 'Vietnam', city: 'Hanoi', latitude: 21.0278, longitude: 105.8342, weight: 2 },
  { code: 'IR', name: 'Iran', city: 'Tehran', latitude: 35.6892, longitude: 51.389, weight: 1 },
];
const WEIGHT_TOTAL = COUNTRIES.reduce((sum, c) => sum + c.weight, 0);

/** The country of a /12 block: a fixed hash of the block, so the plan never depends on the order built. */
function countryOf(block: number, salt: number): Country {
  let h = Math.imul(block ^ salt, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca77) >>> 0;
  let pick = (h ^ (h >>> 13)) % WEIGHT_TOTAL;
  for (const c of COUNTRIES) {
    if (pick < c.weight) return c;
    pick -= c.weight;
  }
  return COUNTRIES[0]!;
}

const v4Text = (v4: number): string => `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;

function cityRecord(c: Country): MmdbEntry['record'] {
  return {
    city: { names: { en: c.city } },
    country: { iso_code: c.code, names: { en: c.name } },
    location: { latitude: mmdbDouble(c.latitude), longitude: mmdbDouble(c.longitude) },
  };
}

interface RemoteNetworks {
  readonly asn: MmdbEntry[];
  readonly city: MmdbEntry[];
}

/** One network per 2^(prefixLength-12) slice of every remote /12 block, IPv4 and IPv6. */
function remoteNetworks(prefixLength: number): RemoteNetworks {
  const asn: MmdbEntry[] = [];
  const city: MmdbEntry[] = [];
  const perBlock = 1 << (prefixLength - 12);
  let asNumber = 4_200_000_000;
  for (const block of remoteV4Blocks()) {
    const country = countryOf(block, 4);
    const record = cityRecord(country);
    for (let i = 0; i < perBlock; i++) {
      const network = `${v4Text(((block << 20) | (i << (32 - prefixLength))) >>> 0)}/${prefixLength}`;
      asn.push({ network, record: { autonomous_system_number: mmdbUint32(asNumber), autonomous_system_organization: `BENCH-${country.code}-NET-${asNumber - 4_200_000_000}` } });
      city.push({ network, record });
      asNumber++;
    }
  }
  // IPv6: the first 12 bits are the block; the next (prefixLength - 12) bits number the network.
  for (let block = REMOTE_V6_FIRST_BLOCK; block <= REMOTE_V6_LAST_BLOCK; block++) {
    const country = countryOf(block, 6);
    const record = cityRecord(country);
    for (let i = 0; i < perBlock; i++) {
      const bits = (block << 20) | (i << (32 - prefixLength));
      const network = `${((bits >>> 16) & 0xffff).toString(16)}:${(bits & 0xffff).toString(16)}::/${prefixLength}`;
      asn.push({ network, record: { autonomous_system_number: mmdbUint32(asNumber), autonomous_system_organization: `BENCH-${country.code}-NET-${asNumber - 4_200_000_000}` } });
      city.push({ network, record });
      asNumber++;
    }
  }
  return { asn, city };
}

const OUR_V4 = 0xc0000200; // 192.0.2.0/24

/** Does an IPv4 block-list row cover any of our 192.0.2.0/24? */
function coversOurs(row: BlocklistRow): boolean {
  const [address, lengthText] = row.network.split('/') as [string, string | undefined];
  const length = lengthText === undefined ? 32 : Number(lengthText);
  const p = address.split('.').map(Number);
  const base = ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
  if (length >= 24) return base >>> 8 === OUR_V4 >>> 8;
  const mask = (0xffffffff << (32 - length)) >>> 0;
  return ((OUR_V4 & mask) >>> 0) === base;
}

async function sampleEntries(source: string): Promise<MmdbEntry[]> {
  const path = join(DATA_DIR, 'src', source);
  const csv = parseNetworkCsv(await readFile(path, 'utf8'), path);
  if (csv.errors.length > 0) throw new Error(`bench data: ${csv.errors.map(formatCsvError).join('; ')}`);
  return [...csv.entries];
}

/** The sample's entries first; generated ones for the same network text are dropped (the sample wins). */
function merged(sample: readonly MmdbEntry[], generated: readonly MmdbEntry[]): MmdbEntry[] {
  const seen = new Set(sample.map((e) => e.network));
  return [...sample, ...generated.filter((e) => !seen.has(e.network))];
}

async function writeDatabase(path: string, entries: readonly MmdbEntry[], databaseType: string, description: string): Promise<void> {
  const built = writeMmdb(entries, { databaseType, description, buildEpochSecs: GENERATED_BUILD_EPOCH_SECS });
  await writeFile(path, built.bytes);
}

const INTEL_KINDS: readonly [string, string, string][] = [
  ['malware', 'malicious code', 'Known malware C2 server'],
  ['scanner', 'information gathering', 'Mass scanning'],
  ['brute-force', 'intrusion attempts', 'SSH brute force against honeypots'],
  ['spam', 'abusive content', 'Spam source'],
  ['phishing', 'fraud', 'Phishing site'],
];

/** IntelMQ file-output lines in the sample's layout (flat dotted keys, sorted, Python separators). */
function intelEvents(hosts: readonly string[]): string {
  let out = '';
  hosts.forEach((ip, i) => {
    const [type, taxonomy, text] = INTEL_KINDS[i % INTEL_KINDS.length]!;
    const minute = String(i % 60).padStart(2, '0');
    out +=
      `{"classification.taxonomy": "${taxonomy}", "classification.type": "${type}", "event_description.text": "${text}", ` +
      `"feed.accuracy": ${50 + (i % 51)}.0, "feed.name": "Bench Feed ${(i % 7) + 1}", "feed.provider": "Bench Threat Intel", ` +
      `"source.ip": "${ip}", "time.observation": "2024-03-11T10:${minute}:00+00:00", "time.source": "2024-03-11T09:${minute}:00+00:00"}\n`;
  });
  return out;
}

/** Builds the benchmark data directory `outDir` (created if needed) and returns its path. */
export async function buildBenchData(outDir: string, options: BenchDataOptions = {}): Promise<string> {
  const prefixLength = options.prefixLength ?? 16;
  if (!Number.isInteger(prefixLength) || prefixLength < 12 || prefixLength > 20) {
    throw new RangeError(`prefixLength (${prefixLength}) must be an integer 12-20`);
  }
  const { count, seed } = options.blocklist ?? DEFAULT_BLOCKLIST;
  const intelCount = options.intelEvents ?? 2_000;
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });

  await Promise.all(COPIED_FILES.map((file) => copyFile(join(DATA_DIR, file), join(dir, file))));

  const remote = remoteNetworks(prefixLength);
  await writeDatabase(join(dir, 'GeoIPASNum.dat'), merged(await sampleEntries('geoip-asn.csv'), remote.asn), 'GeoLite2-ASN', 'Themis benchmark: sample universe plus generated remote ASNs');
  await writeDatabase(join(dir, 'GeoLite2-City.mmdb'), merged(await sampleEntries('geolite2-city.csv'), remote.city), 'GeoLite2-City', 'Themis benchmark: sample universe plus generated remote locations');

  const rows = generateBlocklist(count, seed).filter((row) => !coversOurs(row));
  const listEntry = (row: BlocklistRow): MmdbEntry => ({ network: row.network, record: { note: row.note } });
  await writeDatabase(
    join(dir, 'emerging_threats_ips.dat'),
    merged(await sampleEntries('emerging-threats-ips.csv'), rows.map(listEntry)),
    'Themis-IP-List',
    `Themis benchmark: sample Emerging Threats entries plus generated block list (${count} hosts, seed ${seed})`,
  );
  await writeDatabase(
    join(dir, 'alien_vault_reputation.dat'),
    merged(await sampleEntries('alien-vault-reputation.csv'), rows.filter((r) => r.note.startsWith('AlienVault')).map(listEntry)),
    'Themis-IP-List',
    `Themis benchmark: sample AlienVault entries plus the AlienVault rows of the generated block list`,
  );

  const sampleIntel = await readFile(join(DATA_DIR, 'intelmq-events.jsonl'), 'utf8');
  const intelHosts = rows.filter((r) => !r.network.includes('/')).slice(0, intelCount).map((r) => r.network);
  await writeFile(join(dir, 'intelmq-events.jsonl'), `${sampleIntel.endsWith('\n') ? sampleIntel : `${sampleIntel}\n`}${intelEvents(intelHosts)}`);
  return dir;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'out-dir': { type: 'string' },
      'prefix-length': { type: 'string', default: '16' },
      'intel-events': { type: 'string', default: '2000' },
    },
  });
  if (values['out-dir'] === undefined) {
    process.stderr.write('--out-dir is required\n');
    process.exitCode = 1;
    return;
  }
  const started = performance.now();
  const dir = await buildBenchData(values['out-dir'], { prefixLength: Number(values['prefix-length']), intelEvents: Number(values['intel-events']) });
  process.stdout.write(`wrote benchmark data to ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}

/**
 * What a benchmark runs on, in its working directory `work`: realistic-size data sources
 * (`<work>/data`) and `flows` generated flows (`<work>/flows.jsonl`, seed 42).
 */
export async function prepareBenchInput(work: string, flows: number): Promise<{ dataDir: string; inputPath: string }> {
  console.error(`bench: building realistic-size data sources in ${work}`);
  const dataDir = await buildBenchData(join(work, 'data'));
  const inputPath = join(work, 'flows.jsonl');
  console.error(`bench: generating ${flows.toLocaleString('en-US')} flows`);
  writeFlowsFile(inputPath, { count: flows, seed: 42 });
  return { dataDir, inputPath };
}
