import { KNOWN_HOST_SERVICES_HEADER, parseKnownHostServices } from '../lists/known-host-services.js';
import { contentLines } from '../lists/read-list-file.js';
import { parseSuspectCountries, SUSPECT_COUNTRIES_HEADER } from '../lists/suspect-countries.js';
import type { CountryLookup, ServiceLookup } from '../stores.js';

/**
 * Rows of the configuration tables, and the bridge between them and the CSV list format of
 * bolts/lists (data_sources/known_host_services.csv, suspect_countries.csv).
 *
 * Adapter until bolts/lists exports row-level functions: its parsers take CSV text and return a
 * finished lookup. So the table rows are rendered as CSV and handed to that parser (one index and
 * one set of validation rules for both sources), and a seed file is validated by that parser before
 * its cells are split here. Wanted from bolts/lists instead: parse functions returning rows, and
 * builders of a ServiceLookup / CountryLookup from rows.
 */

export interface KnownHostServiceRow {
  /** A host or a CIDR network, as PostgreSQL's inet text or as written in the CSV. */
  readonly ipAddress: string;
  /** 6 (TCP) or 17 (UDP). */
  readonly protocol: number;
  readonly port: number;
  readonly isHosted: boolean;
  readonly description: string;
}

export interface SuspectCountryRow {
  readonly countryCode: string;
  /** Decimal text, so the numeric column receives exactly what the operator wrote. */
  readonly weighting: string;
}

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, t: true, '1': true, false: false, f: false, '0': false };

/** The rows of a known_host_services.csv; throws bolts/lists' ListFileError listing every bad line. */
export function readKnownHostServiceRows(text: string, file: string): KnownHostServiceRow[] {
  parseKnownHostServices(text, file);
  // Validated above, so every row has four commas and well-formed cells.
  return contentLines(text, 'whole-line')
    .slice(1)
    .map(({ text: row }) => {
      const cells = row.split(',');
      return {
        ipAddress: cells[0]!.trim(),
        protocol: Number(cells[1]!.trim()),
        port: Number(cells[2]!.trim()),
        isHosted: BOOLEANS[cells[3]!.trim().toLowerCase()]!,
        description: cells.slice(4).join(',').trim(),
      };
    });
}

/** The rows of a suspect_countries.csv; throws bolts/lists' ListFileError listing every bad line. */
export function readSuspectCountryRows(text: string, file: string): SuspectCountryRow[] {
  parseSuspectCountries(text, file);
  return contentLines(text, 'whole-line')
    .slice(1)
    .map(({ text: row }) => {
      const [countryCode, weighting] = row.split(',').map((cell) => cell.trim()) as [string, string];
      return { countryCode, weighting };
    });
}

/** A lookup over table rows; `source` names them in errors (throws ListFileError on a bad row). */
export function buildServiceLookup(rows: readonly KnownHostServiceRow[], source: string): ServiceLookup {
  // Descriptions are not needed for look-ups, and one with a line break would split a CSV row.
  const lines = rows.map((r) => `${r.ipAddress},${r.protocol},${r.port},${r.isHosted},`);
  return parseKnownHostServices([KNOWN_HOST_SERVICES_HEADER, ...lines].join('\n'), source);
}

export function buildCountryLookup(rows: readonly SuspectCountryRow[], source: string): CountryLookup {
  const lines = rows.map((r) => `${r.countryCode},${r.weighting}`);
  return parseSuspectCountries([SUSPECT_COUNTRIES_HEADER, ...lines].join('\n'), source);
}
