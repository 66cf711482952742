import type { IdCounter } from '../ingest/sources.js';
import type { DecodedFlow, FlowDecoder } from './flow-decoder.js';
import type { ReceivedDatagram } from './udp-listener.js';

/**
 * A decoded flow as one line of the input schema (reference §4.2), with its id, keys in the order
 * themis-ingest writes them. Ids are assigned as themis-ingest assigns them to nfdump records
 * (bin/themis-ingest.ts): counted up from `--first-id`, by default the start time in epoch
 * milliseconds × 1000.
 */
export function flowLine(id: number, flow: DecodedFlow): string {
  return JSON.stringify({
    id,
    start_timestamp_unix_secs: flow.start_timestamp_unix_secs,
    end_timestamp_unix_secs: flow.end_timestamp_unix_secs,
    protocol: flow.protocol,
    src_ip: flow.src_ip,
    dst_ip: flow.dst_ip,
    src_port: flow.src_port,
    dst_port: flow.dst_port,
    packets: flow.packets,
    bytes: flow.bytes,
    flags: flow.flags,
    tos: flow.tos,
  });
}

/**
 * Decodes one datagram and appends its flows as lines, each with the next id. `scratch` is reused
 * between calls (emptied here), so decoding allocates only the flows and their lines.
 */
export function decodeDatagramLines(decoder: FlowDecoder, datagram: ReceivedDatagram, ids: IdCounter, scratch: DecodedFlow[], out: string[]): number {
  scratch.length = 0;
  const count = decoder.decode(datagram.data, datagram.exporter, datagram.receivedAtMs, scratch);
  for (let i = 0; i < scratch.length; i++) out.push(flowLine(ids.next++, scratch[i]!));
  scratch.length = 0;
  return count;
}
