import type { Flow } from '../../bolts/flow.js';
import { parseIp, type IpAddress } from '../../bolts/lookup/ip-address.js';

/** Parses an address for a test, failing loudly on a typo. */
export function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (parsed === null) throw new Error(`test address ${JSON.stringify(text)} does not parse`);
  return parsed;
}

export type FlowOverrides = Partial<Omit<Flow, 'srcIp' | 'dstIp'>> & {
  srcIp?: IpAddress | string;
  dstIp?: IpAddress | string;
};

/**
 * A flow as it reaches the scoring rules: by default an unmatched INBOUND TCP flow from a remote
 * client 198.51.100.7:51515 (AS 64500) to a local server 192.0.2.10:443 (AS 64496), initiated by
 * src, 10 packets / 1000 bytes, flags `.A..S.`. Override any field; addresses may be text.
 */
export function makeFlow(overrides: FlowOverrides = {}): Flow {
  const { srcIp, dstIp, ...rest } = overrides;
  return {
    id: 1,
    pairId: null,
    startSecs: 1_484_033_957,
    endSecs: 1_484_033_960,
    protocol: 6,
    srcIp: typeof srcIp === 'string' ? ip(srcIp) : (srcIp ?? ip('198.51.100.7')),
    dstIp: typeof dstIp === 'string' ? ip(dstIp) : (dstIp ?? ip('192.0.2.10')),
    srcPort: 51515,
    dstPort: 443,
    packetsSent: 10,
    bytesSent: 1000,
    packetsRecv: 0,
    bytesRecv: 0,
    flags: '.A..S.',
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
    ...rest,
  };
}
