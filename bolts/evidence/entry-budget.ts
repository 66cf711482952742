/**
 * Entries (ports, targets, first contacts, attempts) of one task's windows: `maxEntries` in all,
 * shared by its sources. When it is spent, the source book forgets sources, least recently seen
 * first, to make room (SourceBook).
 */
export class TaskBudget {
  used = 0;
  constructor(readonly max: number) {}

  get isSpent(): boolean {
    return this.used >= this.max;
  }
}

/**
 * How many distinct entries one source may hold across its detectors' windows
 * (`evidence.maxEntriesPerSource`), drawn from its task's `TaskBudget`. An entry refused when either
 * is spent is counted: a source that has spent its own has long passed every threshold (15 ports,
 * 25 targets, 30 attempts).
 */
export class EntryBudget {
  used = 0;
  refused = 0;
  constructor(
    readonly max: number,
    private readonly task: TaskBudget = new TaskBudget(Number.POSITIVE_INFINITY),
  ) {}

  take(): boolean {
    if (this.used >= this.max || this.task.isSpent) {
      this.refused++;
      return false;
    }
    this.used++;
    this.task.used++;
    return true;
  }

  give(n: number): void {
    this.used -= n;
    this.task.used -= n;
  }

  /** The source is forgotten: every entry it held goes back to the task. */
  release(): void {
    this.task.used -= this.used;
    this.used = 0;
  }
}
