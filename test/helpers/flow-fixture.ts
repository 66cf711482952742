import type { Flow } from '../../bolts/flow.js';
import { ip, makeFlow } from './make-flow.js';

export { ip };

/**
 * Small flows for unit tests of the match, join and output pieces. The default is an inbound TCP
 * SYN from a remote client to a local web server, as the discard stage would leave it.
 */
export type FlowFixture = Partial<Omit<Flow, 'srcIp' | 'dstIp'>> & { src?: string; dst?: string };

export const LOCAL_V4 = '192.0.2.10';
export const REMOTE_V4 = '198.51.100.7';

/** The default here differs from makeFlow's only in time, counters and flags: a 1-packet SYN. */
export function flowFixture(overrides: FlowFixture = {}): Flow {
  const { src = REMOTE_V4, dst = LOCAL_V4, ...fields } = overrides;
  return makeFlow({ startSecs: 1_486_834_707, endSecs: 1_486_834_707, packetsSent: 1, bytesSent: 60, flags: '....S.', ...fields, srcIp: src, dstIp: dst });
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
