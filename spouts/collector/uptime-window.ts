import { TWO_32 } from './byte-reads.js';

/**
 * NetFlow v5/v9 and IPFIX's flowStart/EndSysUpTime stamp flows with a 32-bit millisecond uptime
 * counter, which wraps every 49.7 days; and some exporters (softflowd reading a capture) write a
 * flow that began before their own start as a negative number, which the wire makes huge. Either
 * way the stamp is only known modulo 2^32 ms. A flow cannot begin after the datagram exporting
 * it, so the time is taken as the one, of all that are equal modulo 2^32 ms, in the window of
 * 2^32 ms that ends UPTIME_SLACK_MS after the export (the slack allows for exporter clocks that
 * stamp a flow's end a little after the header's time).
 *
 * nfdump 1.7.1 agrees for v5; for v9 and IPFIX it adds the stamp unsigned, so a flow stamped
 * before the exporter's uptime began lands 49.7 days after the export.
 */
export const UPTIME_SLACK_MS = 300_000;

export function intoUptimeWindow(ms: number, exportMs: number): number {
  const limit = exportMs + UPTIME_SLACK_MS;
  if (ms > limit) return ms - Math.ceil((ms - limit) / TWO_32) * TWO_32;
  if (ms <= limit - TWO_32) return ms + Math.floor((limit - ms) / TWO_32) * TWO_32;
  return ms;
}
