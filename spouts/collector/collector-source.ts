import type { IdCounter, SourceItem } from '../ingest/sources.js';
import type { DecodedFlow, FlowDecoder } from './flow-decoder.js';
import { decodeDatagramLines } from './flow-lines.js';
import type { UdpListener } from './udp-listener.js';

/** How long a flow may wait for its batch to fill before it is sent anyway, by default. */
export const DEFAULT_LINGER_MS = 100;

/**
 * The collector as a source of themis-ingest's producer (ingest.ts) or of a file of lines: every
 * flow of every datagram the listener buffers, as a `line` located `udp <exporter>`, until the
 * listener is closed and its buffer is empty; closing it (a stop signal) therefore ends the source
 * after the datagrams already received. A `flush` item follows whenever the buffer has run empty
 * and the oldest flow not yet flushed has waited `lingerMs`, so a trickle of flows is sent within
 * about that long instead of waiting for a full batch.
 */
export async function* collectorSource(
  listener: UdpListener,
  decoder: FlowDecoder,
  ids: IdCounter,
  lingerMs = DEFAULT_LINGER_MS,
  now: () => number = () => performance.now(),
): AsyncGenerator<SourceItem> {
  const scratch: DecodedFlow[] = [];
  const lines: string[] = [];
  /** When the oldest flow not yet followed by a flush was yielded; null when there is none. */
  let pendingSinceMs: number | null = null;
  for (;;) {
    for (let datagram = listener.shift(); datagram !== undefined; datagram = listener.shift()) {
      lines.length = 0;
      decodeDatagramLines(decoder, datagram, ids, scratch, lines);
      if (lines.length === 0) continue;
      pendingSinceMs ??= now();
      const location = `udp ${datagram.exporter}`;
      for (const text of lines) yield { kind: 'line', location, text };
    }
    if (listener.isClosed) {
      if (pendingSinceMs !== null) yield { kind: 'flush' };
      return;
    }
    if (pendingSinceMs === null) {
      await listener.readable();
      continue;
    }
    const waitMs = pendingSinceMs + lingerMs - now();
    if (waitMs <= 0) {
      pendingSinceMs = null;
      yield { kind: 'flush' };
      continue;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([listener.readable(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }
}
