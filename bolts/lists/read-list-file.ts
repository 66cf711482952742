import { readFile } from 'node:fs/promises';
import { ListFileError } from './list-file-error.js';

/** Reads a data file as UTF-8; an unreadable file becomes a ListFileError naming it. */
export async function readListFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new ListFileError(path, [], { cause, summary: `cannot read ${path}: ${why}` });
  }
}

/**
 * The meaningful lines of a data file, numbered from 1: a UTF-8 BOM, `#` comments, surrounding
 * whitespace and CR are removed, and blank lines are skipped (reference §15 item 26: the original
 * rejected all of these). Trailing comments (`23 # telnet`) are allowed only where a `#` cannot be
 * data: CSV descriptions may contain one, so CSV files get whole-line comments only.
 */
export function contentLines(
  text: string,
  comments: 'trailing' | 'whole-line',
): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const rows = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const hash = comments === 'trailing' ? row.indexOf('#') : -1;
    const content = (hash === -1 ? row : row.slice(0, hash)).trim();
    if (content !== '' && content[0] !== '#') out.push({ line: i + 1, text: content });
  }
  return out;
}
