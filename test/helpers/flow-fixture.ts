import type { Flow } from '../../bolts/flow.js';
import { parseIp, type IpAddress } from '../../bolts/lookup/ip-address.js';

/**
 * Small flows for unit tests of the match, join and output pieces. The default is an inbound TCP
 * SYN from a remote client to a local web server, as the discard stage would leave it.
 */
export type FlowFixture = Partial<Omit<Flow, 'srcIp' | 'dstIp'>> & { src?: string; dst?: string };

export const LOCAL_V4 = '192.0.2.10';
export const REMOTE_V4 = '198.51.100.7';

export function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (parsed === null) throw new Error(`fixture IP ${text} does not parse`);
  return parsed;
}

export function flowFixture(overrides: FlowFixture = {}): Flow {
  const { src = REMOTE_V4, dst = LOCAL_V4, ...fields } = overrides;
  return {
    id: 1,
    pairId: null,
    startSecs: 1_486_834_707,
    endSecs: 1_486_834_707,
    protocol: 6,
    srcIp: ip(src),
    dstIp: ip(dst),
    srcPort: 51515,
    dstPort: 443,
    packetsSent: 1,
    bytesSent: 60,
    packetsRecv: 0,
    bytesRecv: 0,
    flags: '....S.',
    flagsRecv: null,
    tos: 0,
    srcAs: 64500,
    dstAs: 64496,
    srcIsLocal: false,
    dstIsLocal: true,
    direction: 'INBOUND',
    matched: false,
    initiator: 'src',
    srcCity: null,
    srcCountry: null,
    srcCountryCode: null,
    srcLatitude: null,
    srcLongitude: null,
    dstCity: null,
    dstCountry: null,
    dstCountryCode: null,
    dstLatitude: null,
    dstLongitude: null,
    tags: [],
    receivedAtMs: 0,
    ...fields,
  };
}

/**
 * The other direction of `flow`, as a separate unidirectional record: endpoints, ASNs, locality,
 * direction and geo swapped; counters, flags and ids from `overrides` (default: id + 1).
 */
export function reverseOf(flow: Flow, overrides: FlowFixture = {}): Flow {
  const { src, dst, ...fields } = overrides;
  const direction = flow.direction === 'INBOUND' ? 'OUTBOUND' : flow.direction === 'OUTBOUND' ? 'INBOUND' : flow.direction;
  return {
    ...flow,
    id: flow.id + 1,
    srcIp: src === undefined ? flow.dstIp : ip(src),
    dstIp: dst === undefined ? flow.srcIp : ip(dst),
    srcPort: flow.dstPort,
    dstPort: flow.srcPort,
    srcAs: flow.dstAs,
    dstAs: flow.srcAs,
    srcIsLocal: flow.dstIsLocal,
    dstIsLocal: flow.srcIsLocal,
    direction,
    srcCity: flow.dstCity,
    srcCountry: flow.dstCountry,
    srcCountryCode: flow.dstCountryCode,
    srcLatitude: flow.dstLatitude,
    srcLongitude: flow.dstLongitude,
    dstCity: flow.srcCity,
    dstCountry: flow.srcCountry,
    dstCountryCode: flow.srcCountryCode,
    dstLatitude: flow.srcLatitude,
    dstLongitude: flow.srcLongitude,
    packetsSent: 1,
    bytesSent: 60,
    flags: '.A..S.',
    tags: [],
    ...fields,
  };
}

/** A clock the test moves by hand. */
export class FakeClock {
  constructor(public ms = 0) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}
