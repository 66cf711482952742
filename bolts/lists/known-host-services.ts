import type { IpAddress } from '../lookup/ip-address.js';
import { parseIp } from '../lookup/ip-address.js';
import type { ServiceKind, ServiceLookup } from '../stores.js';
import { ListFileError, type ListProblem } from './list-file-error.js';
import { contentLines, readListFile } from './read-list-file.js';

/**
 * `known_host_services.csv`: the file form of the original's `list_known_host` +
 * `list_known_host_service` tables (reference §7.3, §8.2), read by ScoreServiceBolt (§5.16).
 *
 *   ip_address,protocol,port,is_hosted,description
 *   192.0.2.25,6,25,true,mail server
 *   198.51.100.0/24,17,53,false,resolvers our hosts may use
 *   2001:db8::/64,6,443,true,web farm
 *
 * - ip_address: an IPv4 or IPv6 host, or a CIDR network (the original compared inet text, so a
 *   network never matched; here it covers every host inside it). Bits set beyond the prefix are
 *   an error (a typo for a host or for another network). `::ffff:a.b.c.d/len` is read as IPv4.
 * - protocol: 6 (TCP) or 17 (UDP); port: 0-65535.
 * - is_hosted: true/false (also t/f, 1/0, as PostgreSQL exports booleans); true = a service the
 *   local host serves, false = a remote service the local host is expected to use.
 * - description: free text, everything after the fourth comma (may contain commas; no quoting).
 * `#` starts a whole-line comment; blank lines, surrounding whitespace and CR are ignored.
 */

export const KNOWN_HOST_SERVICES_HEADER = 'ip_address,protocol,port,is_hosted,description';

const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** V4_MASKS[len] keeps the top `len` bits of an unsigned 32-bit address. */
const V4_MASKS: readonly number[] = Array.from({ length: 33 }, (_, len) =>
  len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0,
);

/** The first `len` bits of an IPv6 address as hex: the key of its /len network. */
function v6Key(bytes: Uint8Array, len: number): string {
  const whole = len >> 3;
  let key = '';
  for (let i = 0; i < whole; i++) key += HEX_BYTE[bytes[i]!];
  const rest = len & 7;
  if (rest !== 0) key += HEX_BYTE[bytes[whole]! & (0xff << (8 - rest)) & 0xff];
  return key;
}

function hasHostBits(ip: IpAddress, len: number): boolean {
  if (ip.version === 4) return ((ip.v4 & ~V4_MASKS[len]!) >>> 0) !== 0;
  for (let bit = len; bit < 128; bit++) if ((ip.bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  return false;
}

/**
 * Services of one kind, by network. A host lookup costs one Map get per distinct prefix length
 * in the file (a plain host is a /32 or /128), never a scan over the entries.
 */
class ServiceTable {
  private readonly v4 = new Map<number, Map<number, Set<number>>>();
  private readonly v6 = new Map<number, Map<string, Set<number>>>();
  private v4Lengths: number[] = [];
  private v6Lengths: number[] = [];

  add(ip: IpAddress, len: number, port: number): void {
    let ports: Set<number> | undefined;
    if (ip.version === 4) {
      let byKey = this.v4.get(len);
      if (byKey === undefined) this.v4.set(len, (byKey = new Map()));
      const key = (ip.v4 & V4_MASKS[len]!) >>> 0;
      ports = byKey.get(key);
      if (ports === undefined) byKey.set(key, (ports = new Set()));
      this.v4Lengths = [...this.v4.keys()];
    } else {
      let byKey = this.v6.get(len);
      if (byKey === undefined) this.v6.set(len, (byKey = new Map()));
      const key = v6Key(ip.bytes, len);
      ports = byKey.get(key);
      if (ports === undefined) byKey.set(key, (ports = new Set()));
      this.v6Lengths = [...this.v6.keys()];
    }
    ports.add(port);
  }

  /** Calls `visit` with the ports of every network covering `host` until it returns true. */
  some(host: IpAddress, visit: (ports: ReadonlySet<number>) => boolean): boolean {
    if (host.version === 4) {
      for (const len of this.v4Lengths) {
        const ports = this.v4.get(len)!.get((host.v4 & V4_MASKS[len]!) >>> 0);
        if (ports !== undefined && visit(ports)) return true;
      }
      return false;
    }
    for (const len of this.v6Lengths) {
      const ports = this.v6.get(len)!.get(v6Key(host.bytes, len));
      if (ports !== undefined && visit(ports)) return true;
    }
    return false;
  }
}

class InMemoryServiceLookup implements ServiceLookup {
  constructor(private readonly tables: Readonly<Record<ServiceKind, ServiceTable>>) {}

  hasService(kind: ServiceKind, host: IpAddress, port: number): boolean {
    return this.tables[kind].some(host, (ports) => ports.has(port));
  }

  hasHost(kind: ServiceKind, host: IpAddress): boolean {
    return this.tables[kind].some(host, () => true);
  }
}

interface ServiceRow {
  readonly ip: IpAddress;
  readonly prefixLength: number;
  readonly kind: ServiceKind;
  readonly port: number;
}

function parseNetwork(text: string, problems: string[]): { ip: IpAddress; len: number } | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(address);
  if (ip === null) {
    problems.push(`ip_address ${JSON.stringify(text)} is not an IPv4/IPv6 address or CIDR network`);
    return null;
  }
  // parseIp turns ::ffff:a.b.c.d into IPv4; its prefix then counts from bit 96.
  const offset = ip.version === 4 && address.includes(':') ? 96 : 0;
  const maxLen = ip.version === 4 ? 32 : 128;
  if (slash === -1) return { ip, len: maxLen };
  const lenText = text.slice(slash + 1);
  const written = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  const len = written - offset;
  if (!(len >= 0 && len <= maxLen)) {
    problems.push(`ip_address ${JSON.stringify(text)} has prefix length ${JSON.stringify(lenText)}, expected ${offset}-${offset + maxLen}`);
    return null;
  }
  if (hasHostBits(ip, len)) {
    problems.push(`ip_address ${JSON.stringify(text)} has bits set beyond /${written}`);
    return null;
  }
  return { ip, len };
}

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, t: true, '1': true, false: false, f: false, '0': false };

function parseRow(text: string, problems: string[]): ServiceRow | null {
  const cells: string[] = [];
  let from = 0;
  for (let i = 0; i < 4; i++) {
    const comma = text.indexOf(',', from);
    if (comma === -1) {
      problems.push(`expected 5 columns (${KNOWN_HOST_SERVICES_HEADER}), found ${i + 1}`);
      return null;
    }
    cells.push(text.slice(from, comma).trim());
    from = comma + 1;
  }
  const [address, protocolText, portText, hostedText] = cells as [string, string, string, string];
  const network = parseNetwork(address, problems);
  const protocol = protocolText === '6' ? 'TCP' : protocolText === '17' ? 'UDP' : null;
  if (protocol === null) problems.push(`protocol ${JSON.stringify(protocolText)} must be 6 (TCP) or 17 (UDP)`);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port <= 65535)) problems.push(`port ${JSON.stringify(portText)} must be an integer 0-65535`);
  const isHosted = BOOLEANS[hostedText.toLowerCase()];
  if (isHosted === undefined) problems.push(`is_hosted ${JSON.stringify(hostedText)} must be true or false`);
  if (network === null || protocol === null || !(port <= 65535) || isHosted === undefined) return null;
  const kind: ServiceKind = `${protocol}_${isHosted ? 'HOSTED' : 'REMOTE'}`;
  return { ip: network.ip, prefixLength: network.len, kind, port };
}

/** Parses the whole file; throws ListFileError listing every bad line. */
export function parseKnownHostServices(text: string, file: string): ServiceLookup {
  const tables: Record<ServiceKind, ServiceTable> = {
    TCP_HOSTED: new ServiceTable(),
    TCP_REMOTE: new ServiceTable(),
    UDP_HOSTED: new ServiceTable(),
    UDP_REMOTE: new ServiceTable(),
  };
  const problems: ListProblem[] = [];
  const lines = contentLines(text, 'whole-line');
  const header = lines[0];
  if (header === undefined) {
    problems.push({ line: 0, text: '', reason: `missing header ${KNOWN_HOST_SERVICES_HEADER}` });
  } else if (header.text.replace(/\s*,\s*/g, ',') !== KNOWN_HOST_SERVICES_HEADER) {
    problems.push({ line: header.line, text: header.text, reason: `expected header ${KNOWN_HOST_SERVICES_HEADER}` });
  }
  for (const { line, text: rowText } of lines.slice(1)) {
    const rowProblems: string[] = [];
    const row = parseRow(rowText, rowProblems);
    if (row === null) problems.push({ line, text: rowText, reason: rowProblems.join('; ') });
    else tables[row.kind].add(row.ip, row.prefixLength, row.port);
  }
  if (problems.length > 0) throw new ListFileError(file, problems);
  return new InMemoryServiceLookup(tables);
}

export async function loadKnownHostServicesFile(path: string): Promise<ServiceLookup> {
  return parseKnownHostServices(await readListFile(path), path);
}
