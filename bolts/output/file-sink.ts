import { mkdirSync, openSync, writeSync, closeSync, fsyncSync, truncateSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DependencyFault } from '../resilience/dependency-fault.js';
import type { RecordSink, TopicBatch } from './record-sink.js';

/** The file of one topic's records in the output directory. */
function topicFile(dir: string, topic: string): string {
  return join(dir, `${topic}.jsonl`);
}

/**
 * Empties the files of these topics, once, before any writer starts: the sinks of every thread
 * append to them (below), so a run that did not start them afresh would add to the last run's
 * records. A file that does not exist is left to the first write.
 */
export function truncateTopicFiles(dir: string, topics: readonly string[]): void {
  for (const topic of topics) {
    const file = topicFile(dir, topic);
    if (existsSync(file)) truncateSync(file, 0);
  }
}

/**
 * The embedded default's output: one JSON-lines file per topic (`<dir>/<topic>.jsonl`), one
 * record value a line. Every task on every thread appends to the same files: each batch is one
 * `write` on a descriptor opened with O_APPEND, so lines from different writers never interleave
 * within a line. `write` returns once the bytes are in the file (page cache), `close` syncs.
 */
export class FileSink implements RecordSink {
  readonly dependency = 'output files';
  private readonly fds = new Map<string, number>();
  /** Records are encoded straight into this buffer: joining them into one string first is ~25x slower. */
  private buf = Buffer.allocUnsafe(1 << 22);

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private fd(topic: string): number {
    let fd = this.fds.get(topic);
    if (fd === undefined) {
      fd = openSync(topicFile(this.dir, topic), 'a');
      this.fds.set(topic, fd);
    }
    return fd;
  }

  async write(batches: readonly TopicBatch[]): Promise<void> {
    for (const b of batches) {
      if (b.records.length === 0) continue;
      let end = 0;
      for (const r of b.records) {
        // UTF-8 takes at most 3 bytes per UTF-16 unit; grow before a record could overflow.
        const need = end + r.value.length * 3 + 1;
        if (need > this.buf.length) {
          const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
          this.buf.copy(bigger, 0, 0, end);
          this.buf = bigger;
        }
        end += this.buf.write(r.value, end, 'utf8');
        this.buf[end++] = 10;
      }
      const fd = this.fd(b.topic);
      for (let off = 0; off < end; ) off += writeSync(fd, this.buf, off, end - off);
    }
  }

  /** Any record can be written as a line: a failed write is the disk's (full, read-only), not the records'. */
  fault(): DependencyFault {
    return 'unavailable';
  }

  async close(): Promise<void> {
    for (const fd of this.fds.values()) {
      fsyncSync(fd);
      closeSync(fd);
    }
    this.fds.clear();
  }
}
