import { isIPv4, isIPv6 } from 'node:net';

/** Where the collector binds: an IP address (no host names: a collector's address is a choice, not a lookup) and a UDP port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 'udp4' | 'udp6';
}

/**
 * Parses `--listen`: `127.0.0.1:2055`, `0.0.0.0:2055`, `[::1]:2055`, `[::]:2055`. Port 0 binds
 * any free port (tests). Returns the reason a person can act on when the text is not one.
 */
export function parseListenAddress(text: string): { ok: true; address: ListenAddress } | { ok: false; reason: string } {
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const plain = bracketed === null ? /^([^:[\]]+):(\d{1,5})$/.exec(text) : null;
  const match = bracketed ?? plain;
  if (match === null) {
    return { ok: false, reason: `--listen "${text}" must be <IPv4>:<port> or [<IPv6>]:<port>, e.g. 127.0.0.1:2055 or [::1]:2055` };
  }
  const host = match[1]!;
  const port = Number(match[2]);
  if (port > 65_535) return { ok: false, reason: `--listen "${text}": port ${port} is above 65535` };
  if (bracketed !== null && !isIPv6(host)) return { ok: false, reason: `--listen "${text}": ${host} inside [] is not an IPv6 address` };
  if (plain !== null && !isIPv4(host)) return { ok: false, reason: `--listen "${text}": ${host} is not an IPv4 address (write IPv6 as [::1]:2055)` };
  return { ok: true, address: Object.freeze({ host, port, family: bracketed !== null ? 'udp6' : 'udp4' }) };
}

/** The address as `--listen` takes it. */
export function formatListenAddress(address: Pick<ListenAddress, 'host' | 'port' | 'family'>): string {
  return address.family === 'udp6' ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
