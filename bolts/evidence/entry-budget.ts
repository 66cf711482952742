/**
 * How many distinct entries one source may hold across its detectors' windows
 * (`evidence.maxEntriesPerSource`). An entry refused when the budget is spent is counted: a
 * source that has spent it has long passed every threshold (15 ports, 25 targets, 30 attempts).
 */
export class EntryBudget {
  used = 0;
  refused = 0;
  constructor(readonly max: number) {}

  take(): boolean {
    if (this.used >= this.max) {
      this.refused++;
      return false;
    }
    this.used++;
    return true;
  }

  give(n: number): void {
    this.used -= n;
  }
}
