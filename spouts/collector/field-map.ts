/**
 * Information elements → what the record decoder does with them. NetFlow v9 (RFC 3954 §8) and
 * IPFIX (IANA "IPFIX Information Elements") share the numbers used here, so one map serves both.
 * Each element the decoder reads becomes a small integer handler; everything else is skipped by
 * its length, enterprise-specific elements included (RFC 7011 §3.2), except the RFC 5103 reverse
 * elements (enterprise 29305, same numbers as the forward ones) that make a biflow's second half.
 *
 * A template that gives a read element a length its type cannot hold (an address of 3 octets, a
 * counter of 9, a zero-length field, a variable length for a fixed type) is malformed: its records
 * could only be read by guessing.
 */

export const H_SKIP = 0;
export const H_BYTES = 1;
export const H_PACKETS = 2;
export const H_PROTOCOL = 3;
export const H_TOS = 4;
export const H_FLAGS = 5;
export const H_SRC_PORT = 6;
export const H_DST_PORT = 7;
export const H_SRC_V4 = 8;
export const H_DST_V4 = 9;
export const H_SRC_V6 = 10;
export const H_DST_V6 = 11;
export const H_START_UPTIME = 12;
export const H_END_UPTIME = 13;
export const H_ICMP_TYPE_CODE = 14;
export const H_ICMP_TYPE = 15;
export const H_ICMP_CODE = 16;
export const H_BYTES_TOTAL = 17;
export const H_PACKETS_TOTAL = 18;
export const H_START_SECS = 19;
export const H_END_SECS = 20;
export const H_START_MS = 21;
export const H_END_MS = 22;
/** dateTimeMicroseconds and dateTimeNanoseconds are both NTP timestamps (RFC 7011 §6.1.9-10). */
export const H_START_NTP = 23;
export const H_END_NTP = 24;
export const H_START_DELTA_US = 25;
export const H_END_DELTA_US = 26;
export const H_SYSTEM_INIT_MS = 27;
export const H_REV_BYTES = 28;
export const H_REV_PACKETS = 29;
export const H_REV_FLAGS = 30;
export const H_REV_BYTES_TOTAL = 31;
export const H_REV_PACKETS_TOTAL = 32;
/** samplingInterval 34 and samplerRandomInterval 50 (v9 SAMPLING_INTERVAL, FLOW_SAMPLER_RANDOM_INTERVAL). */
export const H_SAMPLING_INTERVAL = 33;
export const H_SAMPLING_PACKET_INTERVAL = 34;
export const H_SAMPLING_PACKET_SPACE = 35;
export const H_SAMPLING_SIZE = 36;
export const H_SAMPLING_POPULATION = 37;

/** The length a template gives a variable-length field (RFC 7011 §7). */
export const VARIABLE_LENGTH = 65_535;
/** RFC 5103 reverse information elements' private enterprise number. */
const REVERSE_PEN = 29_305;

interface Element {
  readonly handler: number;
  readonly name: string;
  /** Inclusive octet lengths the element may have (reduced-size encoding allows less than full). */
  readonly minLength: number;
  readonly maxLength: number;
}

const u = (handler: number, name: string, maxLength: number): Element => ({ handler, name, minLength: 1, maxLength });
const exact = (handler: number, name: string, length: number): Element => ({ handler, name, minLength: length, maxLength: length });

const IANA = new Map<number, Element>([
  [1, u(H_BYTES, 'octetDeltaCount', 8)],
  [2, u(H_PACKETS, 'packetDeltaCount', 8)],
  [4, u(H_PROTOCOL, 'protocolIdentifier', 1)],
  [5, u(H_TOS, 'ipClassOfService', 1)],
  [6, u(H_FLAGS, 'tcpControlBits', 2)],
  [7, u(H_SRC_PORT, 'sourceTransportPort', 2)],
  [8, exact(H_SRC_V4, 'sourceIPv4Address', 4)],
  [11, u(H_DST_PORT, 'destinationTransportPort', 2)],
  [12, exact(H_DST_V4, 'destinationIPv4Address', 4)],
  [21, u(H_END_UPTIME, 'flowEndSysUpTime', 4)],
  [22, u(H_START_UPTIME, 'flowStartSysUpTime', 4)],
  [27, exact(H_SRC_V6, 'sourceIPv6Address', 16)],
  [28, exact(H_DST_V6, 'destinationIPv6Address', 16)],
  [32, u(H_ICMP_TYPE_CODE, 'icmpTypeCodeIPv4', 2)],
  [34, u(H_SAMPLING_INTERVAL, 'samplingInterval', 4)],
  [50, u(H_SAMPLING_INTERVAL, 'samplerRandomInterval', 4)],
  [85, u(H_BYTES_TOTAL, 'octetTotalCount', 8)],
  [86, u(H_PACKETS_TOTAL, 'packetTotalCount', 8)],
  [139, u(H_ICMP_TYPE_CODE, 'icmpTypeCodeIPv6', 2)],
  [150, exact(H_START_SECS, 'flowStartSeconds', 4)],
  [151, exact(H_END_SECS, 'flowEndSeconds', 4)],
  [152, exact(H_START_MS, 'flowStartMilliseconds', 8)],
  [153, exact(H_END_MS, 'flowEndMilliseconds', 8)],
  [154, exact(H_START_NTP, 'flowStartMicroseconds', 8)],
  [155, exact(H_END_NTP, 'flowEndMicroseconds', 8)],
  [156, exact(H_START_NTP, 'flowStartNanoseconds', 8)],
  [157, exact(H_END_NTP, 'flowEndNanoseconds', 8)],
  [158, u(H_START_DELTA_US, 'flowStartDeltaMicroseconds', 4)],
  [159, u(H_END_DELTA_US, 'flowEndDeltaMicroseconds', 4)],
  [160, exact(H_SYSTEM_INIT_MS, 'systemInitTimeMilliseconds', 8)],
  [176, u(H_ICMP_TYPE, 'icmpTypeIPv4', 1)],
  [177, u(H_ICMP_CODE, 'icmpCodeIPv4', 1)],
  [178, u(H_ICMP_TYPE, 'icmpTypeIPv6', 1)],
  [179, u(H_ICMP_CODE, 'icmpCodeIPv6', 1)],
  [180, u(H_SRC_PORT, 'udpSourcePort', 2)],
  [181, u(H_DST_PORT, 'udpDestinationPort', 2)],
  [182, u(H_SRC_PORT, 'tcpSourcePort', 2)],
  [183, u(H_DST_PORT, 'tcpDestinationPort', 2)],
  [305, u(H_SAMPLING_PACKET_INTERVAL, 'samplingPacketInterval', 4)],
  [306, u(H_SAMPLING_PACKET_SPACE, 'samplingPacketSpace', 4)],
  [309, u(H_SAMPLING_SIZE, 'samplingSize', 4)],
  [310, u(H_SAMPLING_POPULATION, 'samplingPopulation', 4)],
]);

const REVERSE = new Map<number, Element>([
  [1, u(H_REV_BYTES, 'reverseOctetDeltaCount', 8)],
  [2, u(H_REV_PACKETS, 'reversePacketDeltaCount', 8)],
  [6, u(H_REV_FLAGS, 'reverseTcpControlBits', 2)],
  [85, u(H_REV_BYTES_TOTAL, 'reverseOctetTotalCount', 8)],
  [86, u(H_REV_PACKETS_TOTAL, 'reversePacketTotalCount', 8)],
]);

/** Handlers an options template's data may feed (the rest of an options record is skipped). */
const OPTION_HANDLERS = new Set([
  H_SAMPLING_INTERVAL,
  H_SAMPLING_PACKET_INTERVAL,
  H_SAMPLING_PACKET_SPACE,
  H_SAMPLING_SIZE,
  H_SAMPLING_POPULATION,
  H_SYSTEM_INIT_MS,
]);

/**
 * The handler for one template field, or the reason the field makes its template malformed.
 * `enterprise` is 0 for IANA elements; `isOption` compiles an options template's non-scope field.
 */
export function handlerFor(id: number, enterprise: number, length: number, isOption: boolean): number | string {
  if (length === 0) return `field ${describe(id, enterprise)} has length 0`;
  const element = enterprise === 0 ? IANA.get(id) : enterprise === REVERSE_PEN ? REVERSE.get(id) : undefined;
  if (element === undefined || (isOption && !OPTION_HANDLERS.has(element.handler))) return H_SKIP;
  if (length === VARIABLE_LENGTH) return `field ${element.name} (${describe(id, enterprise)}) cannot be variable-length`;
  if (length < element.minLength || length > element.maxLength) {
    const allowed = element.minLength === element.maxLength ? `${element.minLength}` : `${element.minLength}-${element.maxLength}`;
    return `field ${element.name} (${describe(id, enterprise)}) has length ${length}, must be ${allowed}`;
  }
  return element.handler;
}

function describe(id: number, enterprise: number): string {
  return enterprise === 0 ? `id ${id}` : `id ${id}, enterprise ${enterprise}`;
}
