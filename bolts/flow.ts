import type { IpAddress } from './lookup/ip-address.js';

/**
 * The record that travels through the Themis topology: one unidirectional NetFlow record, or, once
 * match-flows has paired it with its reverse, one conversation. Internal names are camelCase; the
 * output formatters (bolts/output) map them to the original's snake_case wire formats (§9).
 */

/** A tag and its score: rendered on output as `CATEGORY-CODE` (reference §4.3, §17). */
export interface Tag {
  readonly category: string;
  readonly code: string;
  readonly score: number;
  /** true: adds to badness; false: adds to goodness. */
  readonly isBad: boolean;
}

export type FlowDirection = 'INBOUND' | 'OUTBOUND' | 'INTERNAL' | 'UNKNOWN';

/** Which side of the record started the conversation (fix for reference §15.2 item 17). */
export type Initiator = 'src' | 'dst';

export interface Flow {
  /** Input flow id; for a conversation, the id of the record emitted (the local-source one). */
  id: number;
  /** For a matched conversation, the id of the reverse-direction flow; otherwise null. */
  pairId: number | null;
  startSecs: number;
  endSecs: number;
  protocol: number;
  srcIp: IpAddress;
  dstIp: IpAddress;
  srcPort: number;
  dstPort: number;
  /** Counters src -> dst. */
  packetsSent: number;
  bytesSent: number;
  /** Counters dst -> src; 0 until matched. */
  packetsRecv: number;
  bytesRecv: number;
  /** nfdump `UAPRSF` flag string with `.` for unset, or null when the exporter gave none. */
  flags: string | null;
  /** Reverse-direction flags of a conversation, null until matched. */
  flagsRecv: string | null;
  tos: number;
  /** Autonomous system numbers; 0 = unknown (never "ours", reference §15.1 item 8). */
  srcAs: number;
  dstAs: number;
  srcIsLocal: boolean;
  dstIsLocal: boolean;
  direction: FlowDirection | null;
  matched: boolean;
  initiator: Initiator;
  srcCity: string | null;
  srcCountry: string | null;
  /** ISO 3166 alpha-2, or null whenever unknown (reference §15.1 item 9). */
  srcCountryCode: string | null;
  srcLatitude: number | null;
  srcLongitude: number | null;
  dstCity: string | null;
  dstCountry: string | null;
  dstCountryCode: string | null;
  dstLatitude: number | null;
  dstLongitude: number | null;
  tags: Tag[];
  /** Wall clock (ms) when the flow entered the topology (`start_processing_ms`). */
  receivedAtMs: number;
  /** How long (wall clock, ms) the evidence stage held this conversation for its evidence; absent when not held. */
  heldForEvidenceMs?: number;
}
