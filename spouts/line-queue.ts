/**
 * The lines a file reader has read ahead of the topology, each with its number, conversation hash
 * and place in the file: a ring of typed arrays, so queueing and taking a line allocates nothing
 * but the line's text (parallel JS arrays grew, were sliced and were dropped every few thousand
 * lines). It doubles when full; the reader pauses long before that in steady state.
 */
export class LineQueue {
  private no: Float64Array;
  private hash: Float64Array;
  private offset: Float64Array;
  private length: Int32Array;
  private line: (string | undefined)[];
  private head = 0;
  private count = 0;

  /** The line `shift` took last, and its number, hash, offset and length. */
  takenLine = '';
  takenNo = 0;
  takenHash = 0;
  takenOffset = 0;
  takenLength = 0;

  constructor(capacity = 16_384) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity (${capacity}) must be an integer of at least 1`);
    this.no = new Float64Array(capacity);
    this.hash = new Float64Array(capacity);
    this.offset = new Float64Array(capacity);
    this.length = new Int32Array(capacity);
    this.line = new Array<string | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  push(no: number, line: string, hash: number, offset: number, length: number): void {
    if (this.count === this.no.length) this.grow();
    const i = (this.head + this.count) % this.no.length;
    this.no[i] = no;
    this.line[i] = line;
    this.hash[i] = hash;
    this.offset[i] = offset;
    this.length[i] = length;
    this.count++;
  }

  /** Takes the oldest line into the `taken*` fields; false when there is none. */
  shift(): boolean {
    if (this.count === 0) return false;
    const i = this.head;
    this.takenLine = this.line[i]!;
    this.takenNo = this.no[i]!;
    this.takenHash = this.hash[i]!;
    this.takenOffset = this.offset[i]!;
    this.takenLength = this.length[i]!;
    this.line[i] = undefined;
    this.head = (i + 1) % this.no.length;
    this.count--;
    return true;
  }

  private grow(): void {
    const cap = this.no.length;
    const order = (i: number) => (this.head + i) % cap;
    const no = new Float64Array(cap * 2);
    const hash = new Float64Array(cap * 2);
    const offset = new Float64Array(cap * 2);
    const length = new Int32Array(cap * 2);
    const line = new Array<string | undefined>(cap * 2).fill(undefined);
    for (let k = 0; k < this.count; k++) {
      const i = order(k);
      no[k] = this.no[i]!;
      hash[k] = this.hash[i]!;
      offset[k] = this.offset[i]!;
      length[k] = this.length[i]!;
      line[k] = this.line[i];
    }
    this.no = no;
    this.hash = hash;
    this.offset = offset;
    this.length = length;
    this.line = line;
    this.head = 0;
  }
}
