/**
 * The at-least-once invariant as a test sees it from the outside: every id that went in comes out
 * at least once; coming out more than once is allowed, and counted so that a test can report it.
 */
export interface DeliveryReport<Id> {
  /** Distinct ids that went in. */
  readonly expected: number;
  /** Every id that came out, counting repeats. */
  readonly delivered: number;
  /** Ids that went in and never came out: must be empty. */
  readonly missing: readonly Id[];
  /** Ids that came out although they never went in: must be empty too (output invented or corrupted). */
  readonly unexpected: readonly Id[];
  /** Ids that came out more than once. */
  readonly duplicatedIds: number;
  /** Deliveries beyond the first, over every id: delivered − distinct ids delivered. */
  readonly duplicates: number;
}

/** Compares what went in with what came out (each appearance of an id in the output is one delivery). */
export function checkDeliveries<Id>(input: Iterable<Id>, deliveries: Iterable<Id>): DeliveryReport<Id> {
  const seen = new Map<Id, number>();
  for (const id of input) seen.set(id, 0);
  const unexpected = new Set<Id>();
  let delivered = 0;
  for (const id of deliveries) {
    delivered++;
    const n = seen.get(id);
    if (n === undefined) unexpected.add(id);
    else seen.set(id, n + 1);
  }
  const missing: Id[] = [];
  let duplicatedIds = 0;
  let duplicates = 0;
  for (const [id, n] of seen) {
    if (n === 0) missing.push(id);
    else if (n > 1) {
      duplicatedIds++;
      duplicates += n - 1;
    }
  }
  return { expected: seen.size, delivered, missing, unexpected: [...unexpected], duplicatedIds, duplicates };
}

/** One line for a test log: how many arrived, how many twice or more. */
export function describeDeliveries(report: DeliveryReport<unknown>): string {
  return (
    `${report.expected} ids in, ${report.delivered} deliveries out; ${report.missing.length} missing, ${report.unexpected.length} unexpected, ` +
    `${report.duplicatedIds} ids delivered more than once (${report.duplicates} duplicate deliveries)`
  );
}

/** Throws naming the first few missing and unexpected ids; the message says how many there are in all. */
export function assertEveryIdAtLeastOnce<Id>(report: DeliveryReport<Id>, what: string): void {
  if (report.missing.length === 0 && report.unexpected.length === 0) return;
  const sample = (ids: readonly Id[]) => ids.slice(0, 20).map(String).join(', ') + (ids.length > 20 ? ', ...' : '');
  const problems: string[] = [];
  if (report.missing.length > 0) problems.push(`${report.missing.length} of ${report.expected} ids never arrived: ${sample(report.missing)}`);
  if (report.unexpected.length > 0) problems.push(`${report.unexpected.length} ids arrived that never went in: ${sample(report.unexpected)}`);
  throw new Error(`${what}: ${problems.join('; ')}`);
}
