import type { CountryLookup } from '../stores.js';
import { ListFileError, type ListProblem } from './list-file-error.js';
import { contentLines, readListFile } from './read-list-file.js';

/**
 * `suspect_countries.csv`: the file form of the original's `suspect_country` table (reference
 * §5.11, §7.4, §8.2). The weighting multiplies the suspect-country score (80 × 1.0 = 80).
 *
 *   country_code,weighting
 *   CN,1.0
 *   RU,0.75
 *
 * country_code: ISO 3166 alpha-2 in upper case, as GeoIP reports it; listed at most once.
 * weighting: a non-negative decimal (0 disables the row). `#` whole-line comments, blank lines,
 * surrounding whitespace and CR are ignored.
 */

export const SUSPECT_COUNTRIES_HEADER = 'country_code,weighting';

const COUNTRY_CODE = /^[A-Z]{2}$/;
const WEIGHTING = /^\d{1,6}(\.\d{1,9})?$/;

class InMemoryCountryLookup implements CountryLookup {
  constructor(private readonly weightings: ReadonlyMap<string, number>) {}

  weighting(countryCode: string | null): number {
    return countryCode === null ? 0 : (this.weightings.get(countryCode) ?? 0);
  }
}

/** Parses the whole file; throws ListFileError listing every bad line. */
export function parseSuspectCountries(text: string, file: string): CountryLookup {
  const weightings = new Map<string, number>();
  const firstLine = new Map<string, number>();
  const problems: ListProblem[] = [];
  const lines = contentLines(text, 'whole-line');
  const header = lines[0];
  if (header === undefined) {
    problems.push({ line: 0, text: '', reason: `missing header ${SUSPECT_COUNTRIES_HEADER}` });
  } else if (header.text.replace(/\s*,\s*/g, ',') !== SUSPECT_COUNTRIES_HEADER) {
    problems.push({ line: header.line, text: header.text, reason: `expected header ${SUSPECT_COUNTRIES_HEADER}` });
  }
  for (const { line, text: row } of lines.slice(1)) {
    const cells = row.split(',').map((cell) => cell.trim());
    if (cells.length !== 2) {
      problems.push({ line, text: row, reason: `expected 2 columns (${SUSPECT_COUNTRIES_HEADER}), found ${cells.length}` });
      continue;
    }
    const [code, weightText] = cells as [string, string];
    const reasons: string[] = [];
    if (!COUNTRY_CODE.test(code)) reasons.push(`country_code ${JSON.stringify(code)} must be two upper-case letters (ISO 3166 alpha-2)`);
    else if (firstLine.has(code)) reasons.push(`country_code ${code} is already listed on line ${firstLine.get(code)}`);
    if (!WEIGHTING.test(weightText)) reasons.push(`weighting ${JSON.stringify(weightText)} must be a non-negative decimal like 0.75`);
    if (reasons.length > 0) {
      problems.push({ line, text: row, reason: reasons.join('; ') });
      continue;
    }
    firstLine.set(code, line);
    weightings.set(code, Number(weightText));
  }
  if (problems.length > 0) throw new ListFileError(file, problems);
  return new InMemoryCountryLookup(weightings);
}

export async function loadSuspectCountriesFile(path: string): Promise<CountryLookup> {
  return parseSuspectCountries(await readListFile(path), path);
}
