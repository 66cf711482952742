import type { StreamCodec } from '../runtime/index.js';
import type { Flow, Tag } from './flow.js';
import { parseIp } from './lookup/ip-address.js';

/**
 * The wire form of a tuple carrying a Flow, for the hops where flows cross threads (match-flows is
 * fields-grouped on the conversation key). Structured clone writes every property name of every
 * object; this writes the fields positionally as primitives, which clones several times faster
 * (measured in bench/README: about 8.5 µs against 1.5 µs per flow in batches of 512).
 * Addresses travel as text and are parsed again on arrival (IPv4 parsing is tens of nanoseconds).
 */
export function encodeFlow(f: Flow, out: unknown[]): void {
  out.push(
    f.id, f.pairId, f.startSecs, f.endSecs, f.protocol, f.srcIp.text, f.dstIp.text, f.srcPort, f.dstPort,
    f.packetsSent, f.bytesSent, f.packetsRecv, f.bytesRecv, f.flags, f.flagsRecv, f.tos, f.srcAs, f.dstAs,
    f.srcIsLocal, f.dstIsLocal, f.direction, f.matched, f.initiator,
    f.srcCity, f.srcCountry, f.srcCountryCode, f.srcLatitude, f.srcLongitude,
    f.dstCity, f.dstCountry, f.dstCountryCode, f.dstLatitude, f.dstLongitude,
    f.receivedAtMs, f.tags.length,
  );
  for (const t of f.tags) out.push(t.category, t.code, t.score, t.isBad);
}

const FIXED_FIELDS = 35;

/** Decodes a flow written by encodeFlow at `at`; returns it and the index after it. */
export function decodeFlow(w: readonly unknown[], at: number): [Flow, number] {
  const ip = (text: unknown) => {
    const parsed = parseIp(text as string);
    if (parsed === null) throw new Error(`flow codec: "${String(text)}" is not an address`);
    return parsed;
  };
  const n = w[at + 34] as number;
  const tags: Tag[] = [];
  let i = at + FIXED_FIELDS;
  for (let k = 0; k < n; k++, i += 4) tags.push({ category: w[i] as string, code: w[i + 1] as string, score: w[i + 2] as number, isBad: w[i + 3] as boolean });
  // The fields in buildFlow's order (bolts/parse/parse-flow.ts): one hidden class for the flows a
  // thread parsed and those it decoded, so the bolts after a hop (the evidence stage, the outputs)
  // stay monomorphic. (The order differed before; the change measured within the noise: CPU per
  // flow with the evidence stage on, 4 alternating pairs, 41.9-46.5 µs against 44.8-57.0.)
  const flow: Flow = {
    id: w[at] as number,
    pairId: w[at + 1] as number | null,
    startSecs: w[at + 2] as number,
    endSecs: w[at + 3] as number,
    protocol: w[at + 4] as number,
    srcIp: ip(w[at + 5]),
    dstIp: ip(w[at + 6]),
    srcPort: w[at + 7] as number,
    dstPort: w[at + 8] as number,
    packetsSent: w[at + 9] as number,
    bytesSent: w[at + 10] as number,
    packetsRecv: w[at + 11] as number,
    bytesRecv: w[at + 12] as number,
    flags: w[at + 13] as string | null,
    flagsRecv: w[at + 14] as string | null,
    tos: w[at + 15] as number,
    srcAs: w[at + 16] as number,
    dstAs: w[at + 17] as number,
    srcIsLocal: w[at + 18] as boolean,
    dstIsLocal: w[at + 19] as boolean,
    direction: w[at + 20] as Flow['direction'],
    matched: w[at + 21] as boolean,
    initiator: w[at + 22] as Flow['initiator'],
    srcCity: w[at + 23] as string | null,
    srcCountry: w[at + 24] as string | null,
    srcCountryCode: w[at + 25] as string | null,
    srcLatitude: w[at + 26] as number | null,
    srcLongitude: w[at + 27] as number | null,
    dstCity: w[at + 28] as string | null,
    dstCountry: w[at + 29] as string | null,
    dstCountryCode: w[at + 30] as string | null,
    dstLatitude: w[at + 31] as number | null,
    dstLongitude: w[at + 32] as number | null,
    tags,
    receivedAtMs: w[at + 33] as number,
    heldForEvidenceMs: undefined,
  };
  return [flow, i];
}

/** Codec for a stream whose tuple holds one Flow at `flowIndex` and primitives elsewhere. */
export class FlowStreamCodec implements StreamCodec {
  private readonly flowIndex: number;
  constructor(args: { flowIndex: number }) {
    this.flowIndex = args.flowIndex;
  }
  encode(values: readonly unknown[]): unknown[] {
    const out: unknown[] = [values.length];
    for (let i = 0; i < values.length; i++) {
      if (i === this.flowIndex) encodeFlow(values[i] as Flow, out);
      else out.push(values[i]);
    }
    return out;
  }
  decode(wire: unknown[]): unknown[] {
    const n = wire[0] as number;
    const values: unknown[] = new Array(n);
    let at = 1;
    for (let i = 0; i < n; i++) {
      if (i === this.flowIndex) [values[i], at] = decodeFlow(wire, at);
      else values[i] = wire[at++];
    }
    return values;
  }
}
