/**
 * Groupings decide, for one emitted tuple, which tasks of a subscribing component receive it.
 * They are pure: values and task lists in, task ids out. Each emitting task owns its own
 * grouping instances, so round-robin state is never shared between threads.
 */

export interface Grouping {
  /** Target task ids for these values; the returned array may be reused by the next call. */
  choose(values: readonly unknown[]): readonly number[];
  /** The targets when they do not depend on the values (what `choose` always returns), else null. */
  readonly fixed: readonly number[] | null;
}

/** Round-robin over the targets from a per-emitter starting point: even spread, no randomness per tuple. */
export class ShuffleGrouping implements Grouping {
  private next: number;
  private readonly out: number[] = [0];
  readonly fixed: readonly number[] | null;
  constructor(private readonly targets: readonly number[], seed: number) {
    this.next = seed % targets.length;
    this.fixed = targets.length === 1 ? targets : null;
  }
  choose(): readonly number[] {
    this.out[0] = this.targets[this.next]!;
    this.next = this.next + 1 === this.targets.length ? 0 : this.next + 1;
    return this.out;
  }
}

/** Equal values of the chosen fields always go to the same task, on any thread. */
export class FieldsGrouping implements Grouping {
  private readonly out: number[] = [0];
  readonly fixed = null;
  constructor(
    private readonly targets: readonly number[],
    private readonly fieldIndexes: readonly number[],
  ) {}
  choose(values: readonly unknown[]): readonly number[] {
    let h = 0x811c9dc5;
    for (const i of this.fieldIndexes) h = hashValue(values[i], h);
    this.out[0] = this.targets[(h >>> 0) % this.targets.length]!;
    return this.out;
  }
}

export class AllGrouping implements Grouping {
  readonly fixed: readonly number[];
  constructor(private readonly targets: readonly number[]) {
    this.fixed = targets;
  }
  choose(): readonly number[] {
    return this.targets;
  }
}

/** Everything to the component's lowest task id, as in Storm. */
export class GlobalGrouping implements Grouping {
  private readonly out: number[];
  readonly fixed: readonly number[];
  constructor(targets: readonly number[]) {
    this.out = [Math.min(...targets)];
    this.fixed = this.out;
  }
  choose(): readonly number[] {
    return this.out;
  }
}

/** Prefer the targets on the emitter's own worker thread (no serialisation); else shuffle over all. */
export function localOrShuffleGrouping(targets: readonly number[], localTargets: readonly number[], seed: number): Grouping {
  return new ShuffleGrouping(localTargets.length > 0 ? localTargets : targets, seed);
}

/**
 * FNV-1a over a value's canonical text form; numbers that are integers hash by their 32-bit halves
 * so that 7 and 7.0 agree. Deterministic across threads and processes.
 */
export function hashValue(value: unknown, seed: number): number {
  let h = seed;
  if (typeof value === 'number' && Number.isInteger(value)) {
    const lo = value % 0x100000000;
    const hi = Math.floor(value / 0x100000000);
    h = Math.imul(h ^ (lo & 0xffff), 0x01000193);
    h = Math.imul(h ^ (lo >>> 16), 0x01000193);
    h = Math.imul(h ^ (hi & 0xffff), 0x01000193);
    h = Math.imul(h ^ (hi >>> 16), 0x01000193);
    return h;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined';
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}
