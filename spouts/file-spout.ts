import { closeSync, createReadStream, openSync, readSync, statSync, type ReadStream } from 'node:fs';
import type { FailCause, FailReason, MetricCounter, OutputFields, Spout, SpoutOutputCollector, TopologyContext } from '../runtime/index.js';
import { describeFailure } from './failure-reason.js';
import { conversationHashOf } from './conversation-share.js';
import { LineQueue } from './line-queue.js';

export interface FileSpoutArgs {
  /** A JSON-lines file (or a FIFO the caller feeds, e.g. with standard input). */
  readonly path: string;
  /** How origins name the input (default: the path), e.g. `stdin`. */
  readonly label?: string;
  /** A line whose tree fails this many times goes to the `ignored` stream instead of looping. */
  readonly maxRetries: number;
  /**
   * Every task reads the file and emits its share of the lines, chosen by the line's conversation
   * (conversation-share.ts; by line number when its endpoints cannot be read), so that both
   * directions of a conversation are emitted by one task, on one thread. A FIFO (standard input)
   * can be read once: then only task 0 reads it.
   */
  readonly singleReader?: boolean;
  /** Offer at most this many lines per second in all (benchmarks of latency at a given load). */
  readonly ratePerSec?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * A line emitted and not yet acked: the msgId the engine keeps for it. From a regular file it keeps
 * where the line is, not its text, which is read back only for a replay: a flow held for its
 * reverse direction (minutes, tens of thousands at a time) then costs a few numbers, not its line.
 * From a FIFO, which cannot be read again, it keeps the text.
 */
interface InFlightLine {
  readonly no: number;
  readonly line: string | null;
  /** Byte offset and length of the line in the file (its CR excluded). */
  readonly offset: number;
  readonly length: number;
  readonly hash: number;
  failures: number;
  /** How the last failure is worded (`describeFailure`), null before any. */
  lastReason: string | null;
}

/**
 * A line's share hash: its conversation's, or, for a line whose endpoints cannot be read (the
 * parser will refuse it), its number. A replay's check recomputes it the same way.
 */
function lineHash(bytes: Buffer, start: number, end: number, lineNo: number): number {
  return conversationHashOf(bytes, start, end) ?? lineNo;
}

const LINE_GONE = 'the file no longer holds this line where it was read (truncated or rewritten), so it cannot be replayed';

/** Lines buffered ahead of the topology; reading pauses above this. */
const READ_AHEAD_LINES = 8192;

/**
 * Replays a file of flows, one line per tuple: `[line, origin, share]` with origin `file:line`; the
 * msgId says where the line is (InFlightLine). With several tasks, each emits its share of the
 * conversations. A failed line is read back and emitted again; after `maxRetries` failures it goes
 * once to the `ignored` stream with its reason, so a line that can never be processed does not
 * loop (the original's poison-message loop, §5, §15 item 21). Blank lines are skipped.
 * The file is read as a stream with bounded read-ahead, so memory stays flat on any size.
 */
export class FileSpout implements Spout {
  private collector!: SpoutOutputCollector;
  private stream: ReadStream | null = null;
  /** Lines read ahead of the topology (at most about READ_AHEAD_LINES and one read's worth). */
  private readonly ready = new LineQueue();
  // A line in flight is known by its msgId alone: the engine hands it back on ack or fail, so the
  // spout keeps no map of its own.
  private readonly replay: InFlightLine[] = [];
  private readonly poison: InFlightLine[] = [];
  private partial: Buffer = EMPTY;
  /** File offset of the first byte of `partial` (of the next chunk when there is none). */
  private partialOffset = 0;
  /** Whether the input can be read again at an offset (a regular file), for replays. */
  private rereadable = false;
  private fd: number | null = null;
  private lineNo = 0;
  private ended = false;
  private exhaustedSignalled = false;
  private paused = false;
  private origin = '';
  private active = true;
  private startedAtMs = 0;
  private offered = 0;
  /**
   * Lines emitted for the first time, and lines finished (acked: scored, discarded, or written to
   * `ignored-flows`). The difference is what a stop before the end leaves unfinished: in flight,
   * held, or failed and not replayed.
   */
  private linesRead!: MetricCounter;
  private linesFinished!: MetricCounter;

  private share = 0;
  private shares = 1;

  constructor(private readonly args: FileSpoutArgs) {}

  open(context: TopologyContext, collector: SpoutOutputCollector): void {
    this.collector = collector;
    this.linesRead = context.counter('lines_read');
    this.linesFinished = context.counter('lines_finished');
    if (this.args.singleReader) {
      if (context.taskIndex !== 0) {
        this.ended = true;
        return;
      }
    } else {
      this.share = context.taskIndex;
      this.shares = context.componentTasks;
    }
    this.origin = this.args.label ?? this.args.path;
    try {
      this.rereadable = statSync(this.args.path).isFile();
    } catch {
      this.rereadable = false; // the stream reports the error below
    }
    this.stream = createReadStream(this.args.path, { highWaterMark: 1 << 20 });
    // Lines read while the engine had nothing to ask for: it asks at once, not after its idle pause.
    this.stream.on('data', (chunk) => {
      this.onData(chunk as Buffer);
      collector.wake();
    });
    this.stream.on('end', () => {
      if (this.partial.length > 0) this.push(this.partial, 0, this.partial.length, this.partialOffset);
      this.partial = EMPTY;
      this.ended = true;
      collector.wake();
    });
    this.stream.on('error', (err) => {
      collector.reportError(new Error(`cannot read flows from ${this.origin}: ${err.message}`, { cause: err }));
      this.ended = true;
    });
  }

  /**
   * Lines are split on the raw bytes and only this reader's share is decoded: with one reader per
   * thread, each would otherwise decode the whole file. A UTF-8 newline byte never occurs inside a
   * multi-byte character, so splitting bytes is safe.
   */
  private onData(chunk: Buffer): void {
    let start = 0;
    const bytes = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    const base = this.partialOffset;
    this.partial = EMPTY;
    for (;;) {
      const nl = bytes.indexOf(10, start);
      if (nl === -1) break;
      this.push(bytes, start, nl, base);
      start = nl + 1;
    }
    this.partial = start < bytes.length ? Buffer.from(bytes.subarray(start)) : EMPTY;
    this.partialOffset = base + start;
    if (this.ready.size >= READ_AHEAD_LINES && !this.paused) {
      this.paused = true;
      this.stream!.pause();
    }
  }

  /** The line at `[start, end)` of `bytes`, whose first byte is at file offset `base`. */
  private push(bytes: Buffer, start: number, end: number, base: number): void {
    this.lineNo++;
    const stop = end > start && bytes[end - 1] === 13 ? end - 1 : end;
    // Over the line without its CR: the same bytes a replay reads back.
    const hash = lineHash(bytes, start, stop, this.lineNo);
    if (this.shares > 1 && hash % this.shares !== this.share) return;
    const line = bytes.toString('utf8', start, stop);
    if (line.trim().length === 0) return;
    this.ready.push(this.lineNo, line, hash, base + start, stop - start);
  }

  /**
   * The text of an in-flight line, read back from the file when it was not kept; null when the
   * file no longer holds it there (truncated or rewritten since it was read).
   */
  private lineOf(p: InFlightLine): string | null {
    if (p.line !== null) return p.line;
    const buf = Buffer.allocUnsafe(p.length);
    let got: number;
    try {
      this.fd ??= openSync(this.args.path, 'r');
      got = readSync(this.fd, buf, 0, p.length, p.offset);
    } catch {
      return null;
    }
    if (got !== p.length || lineHash(buf, 0, got, p.no) !== p.hash) return null;
    return buf.toString('utf8');
  }

  nextTuple(): void {
    if (!this.active) return;
    const poisoned = this.poison.shift();
    if (poisoned) {
      const p = poisoned;
      const line = this.lineOf(p);
      const reason = `failed ${p.failures} times (last: ${p.lastReason ?? 'error'})`;
      this.collector.emit(line === null ? [`${reason}; ${LINE_GONE}`, '', `${this.origin}:${p.no}`] : [reason, line, `${this.origin}:${p.no}`], p, 'ignored');
      return;
    }
    const again = this.replay.shift();
    if (again !== undefined) {
      const line = this.lineOf(again);
      // A line that can no longer be read cannot be replayed: it is reported, never skipped unseen.
      if (line === null) this.collector.emit([`failed (last: ${again.lastReason ?? 'error'}); ${LINE_GONE}`, '', `${this.origin}:${again.no}`], again, 'ignored');
      else this.collector.emit([line, `${this.origin}:${again.no}`, again.hash], again);
      return;
    }
    if (this.args.ratePerSec !== undefined && this.ready.size > 0) {
      const now = Date.now();
      if (this.startedAtMs === 0) this.startedAtMs = now;
      // The rate is the whole spout's: each reader offers its share of it.
      if (this.offered >= ((now - this.startedAtMs) / 1000) * (this.args.ratePerSec / this.shares)) return;
      this.offered++;
    }
    if (this.ready.shift()) {
      const r = this.ready;
      const no = r.takenNo;
      const line = r.takenLine;
      const hash = r.takenHash;
      const offset = r.takenOffset;
      const length = r.takenLength;
      const inFlight: InFlightLine = { no, line: this.rereadable ? null : line, offset, length, hash, failures: 0, lastReason: null };
      this.collector.emit([line, `${this.origin}:${no}`, hash], inFlight);
      this.linesRead.inc();
      if (this.paused && this.ready.size < READ_AHEAD_LINES / 2) {
        this.paused = false;
        this.stream!.resume();
      }
      return;
    }
    if (this.ended && !this.exhaustedSignalled) {
      this.exhaustedSignalled = true;
      this.collector.signalExhausted();
    }
  }

  ack(_msgId: unknown): void {
    // Nothing to forget: the line lived only in its msgId.
    this.linesFinished.inc();
  }

  fail(msgId: unknown, reason: FailReason, cause?: FailCause): void {
    const p = msgId as InFlightLine;
    // A poison record that fails to be written is tried again, as a poison record.
    if (p.failures < this.args.maxRetries) p.failures++;
    p.lastReason = describeFailure(reason, cause);
    if (p.failures >= this.args.maxRetries) this.poison.push(p);
    else this.replay.push(p);
  }

  activate(): void {
    this.active = true;
  }
  deactivate(): void {
    this.active = false;
  }
  close(): void {
    this.stream?.destroy();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  declareOutputFields(): OutputFields {
    return { default: ['line', 'origin', 'share'], ignored: ['reason', 'line', 'origin'] };
  }
}
