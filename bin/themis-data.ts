#!/usr/bin/env node
/**
 * themis-data: builds Themis data files.
 *
 *   themis-data build-mmdb <csv> <out> [--type <database_type>] [--description <text>]
 *
 * The CSV's header picks the layout (Themis IP list, GeoLite2-ASN or GeoLite2-City; see
 * data_sources/tools/network-csv.ts). Replaces the original's generate_maxmind_db.pl (§12.1):
 * every bad line is reported with its line number, the exit code is 1, and nothing is written
 * (§15.9 item 54).
 */
import { Command } from 'commander';
import { buildMmdbFromCsvFile, describeBuild } from '../data_sources/tools/network-csv.js';
import { isEntryPoint } from './is-entry-point.js';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly nowSecs: () => number;
  readonly setExitCode: (code: number) => void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  nowSecs: () => Math.floor(Date.now() / 1000),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('themis-data').description('Build Themis data files');
  program
    .command('build-mmdb')
    .description('build a MaxMind DB file from a network CSV (Themis IP list, GeoLite2-ASN or GeoLite2-City layout)')
    .argument('<csv>', 'input CSV; its header line picks the layout')
    .argument('<out>', 'output .mmdb/.dat file')
    .option('--type <database_type>', 'metadata database_type (default by layout: Themis-IP-List, GeoLite2-ASN, GeoLite2-City)')
    .option('--description <text>', 'metadata description (English)')
    .action((csv: string, out: string, options: { type?: string; description?: string }) => {
      const outcome = buildMmdbFromCsvFile(csv, out, {
        databaseType: options.type,
        description: options.description,
        buildEpochSecs: io.nowSecs(),
      });
      if (!outcome.ok) {
        for (const line of outcome.errors) io.err(line);
        io.err(`${outcome.errors.length} error(s); nothing written to ${out}`);
        io.setExitCode(1);
        return;
      }
      io.out(describeBuild(out, outcome));
    });
  return program;
}

if (isEntryPoint(import.meta.url)) {
  createProgram().parse(process.argv);
}
