import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How often the writer looks for the reader until it has opened the FIFO, ms. */
const READER_POLL_MS = 10;

/**
 * Standard input passed on through a FIFO: worker threads cannot read the process's standard
 * input (a socket or pipe owned by the main thread), so the file spout reads the FIFO like a file.
 *
 * No thread of ours ever blocks on the FIFO, so the process can always exit. A blocking open or
 * write would wait in libuv's thread pool, which the process joins at exit: a reader that never
 * came, or a full FIFO nobody reads, would then hang it. So the write end is opened without
 * blocking, once the reader has opened (ENXIO until then; nothing may be written before, since a
 * FIFO whose ends are all closed loses what it holds), and is written from the event loop. The
 * reader (the file spout, on a worker thread) does block; `close()` lets it see the end.
 */
export class StdinFifo {
  readonly path: string;
  private readonly dir: string;
  private writer: Socket | null = null;
  private readonly poll: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly input: NodeJS.ReadableStream = process.stdin) {
    this.dir = mkdtempSync(join(tmpdir(), 'themis-stdin-'));
    this.path = join(this.dir, 'stdin.fifo');
    execFileSync('mkfifo', [this.path]);
    this.poll = setInterval(() => this.openWriter(), READER_POLL_MS);
    // However the process ends (an error, a dead worker, process.exit), a reader blocked on the
    // FIFO must see its end first: the process joins the thread it waits on before exiting.
    process.once('exit', () => this.close());
  }

  /** Opens the write end if the reader is there: true once it is open. */
  private openWriter(): boolean {
    const fd = this.tryOpenForWriting();
    if (fd === null) return false;
    clearInterval(this.poll);
    const writer = new Socket({ fd, readable: false, writable: true });
    this.writer = writer;
    // The end of standard input ends the writer, which closes the FIFO: the reader sees its end.
    this.input.pipe(writer);
    writer.on('close', () => rmSync(this.dir, { recursive: true, force: true }));
    return true;
  }

  /** The write end, opened without blocking; null while no reader has the FIFO open. */
  private tryOpenForWriting(): number | null {
    try {
      return openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') return null;
      throw new Error(`cannot pass standard input on through ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Stops passing standard input on, at once: the reader sees the end of its input after what the
   * FIFO already holds. A reader still waiting in its open is let in first, so that it reads that
   * end instead of waiting for ever.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    if (this.writer === null && !this.openWriter()) {
      rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    this.input.unpipe(this.writer!);
    this.writer!.destroy();
  }
}
