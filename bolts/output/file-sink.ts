import { mkdirSync, openSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordSink, TopicBatch } from './record-sink.js';

/**
 * The embedded default's output: one JSON-lines file per topic (`<dir>/<topic>.jsonl`), one
 * record value a line. Every task on every thread appends to the same files: each batch is one
 * `write` on a descriptor opened with O_APPEND, so lines from different writers never interleave
 * within a line. `write` returns once the bytes are in the file (page cache), `close` syncs.
 */
export class FileSink implements RecordSink {
  private readonly fds = new Map<string, number>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private fd(topic: string): number {
    let fd = this.fds.get(topic);
    if (fd === undefined) {
      fd = openSync(join(this.dir, `${topic}.jsonl`), 'a');
      this.fds.set(topic, fd);
    }
    return fd;
  }

  async write(batches: readonly TopicBatch[]): Promise<void> {
    for (const b of batches) {
      if (b.records.length === 0) continue;
      let text = '';
      for (const r of b.records) text += `${r.value}\n`;
      const buf = Buffer.from(text);
      const fd = this.fd(b.topic);
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    }
  }

  async close(): Promise<void> {
    for (const fd of this.fds.values()) {
      fsyncSync(fd);
      closeSync(fd);
    }
    this.fds.clear();
  }
}
