/**
 * A pool of integer slots for fixed-size records kept in typed arrays, so per-root bookkeeping
 * allocates nothing per root (the ledger and the pending window hold tens of thousands of roots
 * and churn hundreds of thousands per second; objects per root cost more in GC than in work).
 */
export class SlotPool {
  private free: number[] = [];
  private next = 0;
  capacity: number;

  constructor(initial: number, private readonly onGrow: (capacity: number) => void) {
    this.capacity = initial;
  }

  take(): number {
    const s = this.free.pop();
    if (s !== undefined) return s;
    if (this.next === this.capacity) {
      this.capacity *= 2;
      this.onGrow(this.capacity);
    }
    return this.next++;
  }

  release(slot: number): void {
    this.free.push(slot);
  }
}

export function grow<T extends Float64Array | Uint32Array | Int32Array>(arr: T, capacity: number): T {
  const bigger = new (arr.constructor as new (n: number) => T)(capacity);
  bigger.set(arr);
  return bigger;
}
