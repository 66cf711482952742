/** One rejected line of a data file; line 0 stands for the file as a whole (e.g. no header). */
export interface ListProblem {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

/**
 * A data file that cannot be used: unreadable, or with bad lines. Every bad line is collected
 * before this is thrown, so the operator fixes the file in one pass. Bad data files stop start-up
 * (a replay cannot help).
 */
export class ListFileError extends Error {
  readonly code = 'THEMIS_LIST_FILE';
  readonly retriable = false;
  readonly file: string;
  readonly problems: readonly ListProblem[];

  constructor(file: string, problems: readonly ListProblem[], options?: { cause?: unknown; summary?: string }) {
    const summary = options?.summary ?? `${file}: ${problems.length} bad line${problems.length === 1 ? '' : 's'}`;
    const details = problems.map((p) => `\n  ${file}:${p.line}: ${p.reason}${p.text === '' ? '' : `: ${JSON.stringify(p.text)}`}`);
    super(summary + details.join(''), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ListFileError';
    this.file = file;
    this.problems = problems;
  }
}
