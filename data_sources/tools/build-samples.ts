/**
 * Builds the sample MMDB files in data_sources/ from the readable CSVs in data_sources/src/,
 * under the original's file names (§2.6). Run with `npm run data:build`.
 *
 * The build epoch is fixed, so a rebuild from unchanged sources gives byte-identical files (the
 * integration test checks that the shipped files match their sources).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildMmdbFromCsvFile, describeBuild } from './network-csv.js';

/** data_sources/ of the package, from the sources or from the compiled copy in dist/. */
export const DATA_DIR = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'data_sources');
})();
export const SAMPLE_BUILD_EPOCH_SECS = 1_704_067_200; // 2024-01-01T00:00:00Z

export interface SampleDatabase {
  readonly source: string;
  readonly output: string;
  readonly databaseType: string;
  readonly description: string;
}

export const SAMPLE_DATABASES: readonly SampleDatabase[] = [
  {
    source: 'src/geolite2-city.csv',
    output: 'GeoLite2-City.mmdb',
    databaseType: 'GeoLite2-City',
    description: 'Themis sample universe: city/country/location (GeoLite2-City layout), not MaxMind data',
  },
  {
    source: 'src/geoip-asn.csv',
    output: 'GeoIPASNum.dat',
    databaseType: 'GeoLite2-ASN',
    description: 'Themis sample universe: autonomous systems (GeoLite2-ASN layout), not MaxMind data',
  },
  {
    source: 'src/active-hosts.csv',
    output: 'active_hosts.dat',
    databaseType: 'Themis-IP-List',
    description: 'Themis sample universe: active (non-dark) hosts of our network',
  },
  {
    source: 'src/emerging-threats-ips.csv',
    output: 'emerging_threats_ips.dat',
    databaseType: 'Themis-IP-List',
    description: 'Themis sample universe: Emerging Threats block list stand-in',
  },
  {
    source: 'src/alien-vault-reputation.csv',
    output: 'alien_vault_reputation.dat',
    databaseType: 'Themis-IP-List',
    description: 'Themis sample universe: AlienVault reputation stand-in',
  },
  {
    source: 'src/ndpi-good.csv',
    output: 'ndpi_good.dat',
    databaseType: 'Themis-IP-List',
    description: 'Themis sample universe: nDPI known-good networks (whitelist)',
  },
];

/** Builds every sample database into `outDir`; returns one summary line per file. Throws on any source error. */
export function buildSamples(outDir: string = DATA_DIR): string[] {
  mkdirSync(outDir, { recursive: true });
  const lines: string[] = [];
  const errors: string[] = [];
  for (const sample of SAMPLE_DATABASES) {
    const out = join(outDir, sample.output);
    const outcome = buildMmdbFromCsvFile(join(DATA_DIR, sample.source), out, {
      databaseType: sample.databaseType,
      description: sample.description,
      buildEpochSecs: SAMPLE_BUILD_EPOCH_SECS,
    });
    if (outcome.ok) lines.push(describeBuild(out, outcome));
    else errors.push(...outcome.errors);
  }
  if (errors.length > 0) throw new Error(`sample data build failed:\n${errors.join('\n')}`);
  return lines;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    for (const line of buildSamples()) process.stdout.write(`${line}\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
