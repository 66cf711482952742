/**
 * Reads the network CSV files that `themis-data build-mmdb` and `build-samples` turn into MMDB.
 *
 * The header line (the first line that is neither blank nor a `#` comment) picks the layout:
 *   network,note                                                  Themis IP list (§7.6): {note}
 *   network,autonomous_system_number,autonomous_system_organization   GeoLite2-ASN layout
 *   network,city_name,country_iso_code,country_name,latitude,longitude GeoLite2-City layout
 *
 * Fields are comma separated; a field containing a comma is double-quoted ("" inside quotes is a
 * quote). CR is stripped. `network` is a CIDR or a bare address (/32, /128), IPv4 or IPv6.
 * Unlike the original generator (§12.1, §15.9 item 54), a bad line is an error, and every error in
 * the file is reported at once with its line number.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  mmdbDouble,
  mmdbUint32,
  MmdbWriteError,
  parseNetwork,
  writeMmdb,
  type MmdbEntry,
  type MmdbValue,
  type MmdbWriteResult,
} from './mmdb-writer.js';

export type NetworkCsvKind = 'ip-list' | 'asn' | 'city';

const HEADERS: Record<NetworkCsvKind, readonly string[]> = {
  'ip-list': ['network', 'note'],
  asn: ['network', 'autonomous_system_number', 'autonomous_system_organization'],
  city: ['network', 'city_name', 'country_iso_code', 'country_name', 'latitude', 'longitude'],
};

/** database_type written when the caller gives none. */
export const DEFAULT_DATABASE_TYPE: Record<NetworkCsvKind, string> = {
  'ip-list': 'Themis-IP-List',
  asn: 'GeoLite2-ASN',
  city: 'GeoLite2-City',
};

export interface NetworkCsvError {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

export interface NetworkCsv {
  /** Null only when the header itself is missing or unknown (then `errors` says why). */
  readonly kind: NetworkCsvKind | null;
  readonly entries: readonly MmdbEntry[];
  readonly errors: readonly NetworkCsvError[];
}

export function formatCsvError(e: NetworkCsvError): string {
  return `${e.file}:${e.line}: ${e.reason}`;
}

/** Splits one CSV line; returns a reason string for an unterminated quote. */
function splitCsvLine(line: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return 'unterminated quoted field';
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      const rest = line.indexOf(',', i);
      const trailing = line.slice(i, rest === -1 ? line.length : rest);
      if (trailing.trim() !== '') return `text after closing quote: "${trailing}"`;
      i = rest === -1 ? line.length : rest;
    } else {
      const comma = line.indexOf(',', i);
      field = line.slice(i, comma === -1 ? line.length : comma).trim();
      i = comma === -1 ? line.length : comma;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

function kindOfHeader(fields: readonly string[]): NetworkCsvKind | null {
  const names = fields.map((f) => f.trim().toLowerCase());
  for (const kind of Object.keys(HEADERS) as NetworkCsvKind[]) {
    const expected = HEADERS[kind];
    if (names.length === expected.length && names.every((n, i) => n === expected[i])) return kind;
  }
  return null;
}

type RowResult = { record: MmdbValue } | { reason: string };

function parseNumber(text: string, name: string, min: number, max: number): number | string {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return `${name} "${text}" is not a number`;
  const n = Number(text);
  if (n < min || n > max) return `${name} ${text} is out of range (${min} to ${max})`;
  return n;
}

function ipListRecord(fields: readonly string[]): RowResult {
  const note = fields[1]!;
  if (note === '') return { reason: 'note is empty (every IP-list network needs a note)' };
  return { record: { note } };
}

function asnRecord(fields: readonly string[]): RowResult {
  const [, asnText, org] = fields as [string, string, string];
  if (asnText === '') return { reason: 'autonomous_system_number is empty' };
  if (!/^\d+$/.test(asnText) || Number(asnText) > 0xffffffff) {
    return { reason: `autonomous_system_number "${asnText}" is not an integer from 0 to 4294967295` };
  }
  const record: Record<string, MmdbValue> = { autonomous_system_number: mmdbUint32(Number(asnText)) };
  if (org !== '') record['autonomous_system_organization'] = org;
  return { record };
}

/** GeoLite2-City layout; empty fields are left out, as MaxMind leaves out unknown parts. */
function cityRecord(fields: readonly string[]): RowResult {
  const [, city, iso, country, latText, lonText] = fields as [string, string, string, string, string, string];
  const record: Record<string, MmdbValue> = {};
  if (city !== '') record['city'] = { names: { en: city } };
  if (iso !== '' && !/^[A-Z]{2}$/.test(iso)) return { reason: `country_iso_code "${iso}" is not two capital letters` };
  if (iso !== '' || country !== '') {
    const countryRecord: Record<string, MmdbValue> = {};
    if (iso !== '') countryRecord['iso_code'] = iso;
    if (country !== '') countryRecord['names'] = { en: country };
    record['country'] = countryRecord;
  }
  if ((latText === '') !== (lonText === '')) return { reason: 'latitude and longitude must both be given or both be empty' };
  if (latText !== '') {
    const lat = parseNumber(latText, 'latitude', -90, 90);
    if (typeof lat === 'string') return { reason: lat };
    const lon = parseNumber(lonText, 'longitude', -180, 180);
    if (typeof lon === 'string') return { reason: lon };
    record['location'] = { latitude: mmdbDouble(lat), longitude: mmdbDouble(lon) };
  }
  return { record };
}

const RECORD_OF: Record<NetworkCsvKind, (fields: readonly string[]) => RowResult> = {
  'ip-list': ipListRecord,
  asn: asnRecord,
  city: cityRecord,
};

function parseRow(
  kind: NetworkCsvKind,
  fields: readonly string[],
  lineNo: number,
  firstLineOf: Map<string, number>,
): MmdbEntry | string {
  const expected = HEADERS[kind];
  if (fields.length < expected.length) {
    return `missing field ${expected.slice(fields.length).join(', ')} (expected ${expected.length} fields, found ${fields.length})`;
  }
  if (fields.length > expected.length) {
    return `expected ${expected.length} fields, found ${fields.length} (quote a field that contains a comma)`;
  }
  const networkText = fields[0]!;
  if (networkText === '') return 'network is empty';
  const network = parseNetwork(networkText);
  if ('reason' in network) return network.reason;
  const p = network.network;
  const canonical = `${Buffer.from(p.bytes).toString('hex')}/${p.prefixLength}`;
  const earlier = firstLineOf.get(canonical);
  if (earlier !== undefined) return `duplicate network ${networkText} (first on line ${earlier})`;
  firstLineOf.set(canonical, lineNo);
  const row = RECORD_OF[kind](fields);
  if ('reason' in row) return row.reason;
  return { network: networkText, record: row.record };
}

/** Parses the text of a network CSV. `file` only names the source in errors. */
export function parseNetworkCsv(text: string, file: string): NetworkCsv {
  const errors: NetworkCsvError[] = [];
  const entries: MmdbEntry[] = [];
  const firstLineOf = new Map<string, number>();
  let kind: NetworkCsvKind | null = null;
  let headerSeen = false;

  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const line = lines[index]!.replace(/\r/g, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const fields = splitCsvLine(line);
    if (typeof fields === 'string') {
      errors.push({ file, line: lineNo, reason: fields });
      continue;
    }
    if (!headerSeen) {
      headerSeen = true;
      kind = kindOfHeader(fields);
      if (kind === null) {
        const known = Object.values(HEADERS).map((h) => `"${h.join(',')}"`).join(', ');
        errors.push({ file, line: lineNo, reason: `unknown header "${line}"; expected one of ${known}` });
      }
      continue;
    }
    // With an unknown header no row can be checked; that one error says why.
    if (kind === null) continue;
    const row = parseRow(kind, fields, lineNo, firstLineOf);
    if (typeof row === 'string') errors.push({ file, line: lineNo, reason: row });
    else entries.push(row);
  }

  if (!headerSeen) errors.push({ file, line: lines.length, reason: 'no header line (file is empty or all comments)' });
  return { kind, entries, errors };
}

export interface BuildFromCsvOptions {
  /** database_type; defaults by CSV kind (`DEFAULT_DATABASE_TYPE`). */
  readonly databaseType?: string;
  readonly description?: string;
  readonly buildEpochSecs: number;
}

export type BuildFromCsvOutcome =
  | { readonly ok: true; readonly kind: NetworkCsvKind; readonly databaseType: string; readonly result: MmdbWriteResult }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Reads `csvPath`, and only if every line is good writes the MMDB to `outPath` (via a temporary
 * file and rename, so a failed build never leaves a partial or stale-looking output).
 */
export function buildMmdbFromCsvFile(csvPath: string, outPath: string, options: BuildFromCsvOptions): BuildFromCsvOutcome {
  let text: string;
  try {
    text = readFileSync(csvPath, 'utf8');
  } catch (cause) {
    return { ok: false, errors: [`${csvPath}: cannot read: ${(cause as Error).message}`] };
  }
  const csv = parseNetworkCsv(text, csvPath);
  if (csv.errors.length > 0 || csv.kind === null) return { ok: false, errors: csv.errors.map(formatCsvError) };
  const kind = csv.kind;

  const databaseType = options.databaseType ?? DEFAULT_DATABASE_TYPE[kind];
  let result: MmdbWriteResult;
  try {
    result = writeMmdb(csv.entries, {
      databaseType,
      description: options.description ?? `Themis ${DEFAULT_DATABASE_TYPE[kind]} database built from ${basename(csvPath)}`,
      buildEpochSecs: options.buildEpochSecs,
    });
  } catch (cause) {
    if (cause instanceof MmdbWriteError) return { ok: false, errors: [`${csvPath}: ${cause.message}`] };
    throw cause;
  }

  const temporary = `${outPath}.tmp-${process.pid}`;
  try {
    writeFileSync(temporary, result.bytes);
    renameSync(temporary, outPath);
  } catch (cause) {
    rmSync(temporary, { force: true });
    return { ok: false, errors: [`${outPath}: cannot write: ${(cause as Error).message}`] };
  }
  return { ok: true, kind, databaseType, result };
}

export function describeBuild(outPath: string, built: { databaseType: string; result: MmdbWriteResult }): string {
  const { result, databaseType } = built;
  return `wrote ${outPath}: ${result.networkCount} networks, ${result.nodeCount} nodes, ${result.bytes.length} bytes `
    + `(${databaseType}, IPv${result.ipVersion}, ${result.recordSize}-bit records)`;
}
