import type { Flow } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';

/**
 * Who started the conversation decides which counters a signature test reads (fixes reference
 * §15 item 5: the original read whichever direction's record happened to be emitted). A record
 * always carries src->dst counters in *Sent and, once matched, dst->src counters in *Recv.
 */

export interface DirectionCounters {
  readonly packets: number;
  readonly bytes: number;
  /** nfdump `UAPRSF` flags of that direction, null when unknown (not exported, or not matched). */
  readonly flags: string | null;
}

/** Counters of the initiator -> responder direction. */
export function initiatorCounters(flow: Flow): DirectionCounters {
  return flow.initiator === 'src'
    ? { packets: flow.packetsSent, bytes: flow.bytesSent, flags: flow.flags }
    : { packets: flow.packetsRecv, bytes: flow.bytesRecv, flags: flow.flagsRecv };
}

export interface Endpoint {
  readonly ip: IpAddress;
  readonly port: number;
  readonly isLocal: boolean;
}

/** The side that was contacted: the server of a client/server conversation. */
export function responderEndpoint(flow: Flow): Endpoint {
  return flow.initiator === 'src'
    ? { ip: flow.dstIp, port: flow.dstPort, isLocal: flow.dstIsLocal }
    : { ip: flow.srcIp, port: flow.srcPort, isLocal: flow.srcIsLocal };
}
