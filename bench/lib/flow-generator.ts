/**
 * Deterministic generator of realistic NetFlow input (JSON lines, reference §4.2) for benchmarks:
 * the same (count, seed, startSecs, mix) always gives the same bytes, at any size, streamed.
 *
 * What the mix holds (shares of LINES; defaults in DEFAULT_FLOW_MIX):
 * - ordinary sessions: TCP/UDP/ICMP between our network (AS64500: 192.0.2.0/24, 2001:db8:1::/48)
 *   and remote hosts: clients browsing out, remote clients reaching our servers, DNS, NTP, pings.
 *   Most TCP/UDP sessions are conversations of two unidirectional records; the reverse record
 *   arrives a few lines later, and sometimes first. The rest are one-way records.
 * - scans: SYN-only bursts from one remote host across many local hosts (horizontal) or many
 *   ports of one host (vertical); a few probes are answered with a RST;
 * - SSH and HTTP(S) brute-force bursts: many short conversations from one attacker, with the
 *   packet/byte counts of reference §5.14-5.15;
 * - traffic the discard stage drops: telnet honeypot probes (local 23/2323), internal and
 *   remote-to-remote flows, protocols outside valid_protocols.txt;
 * - a small share of bad lines (every kind the parser refuses).
 *
 * Remote addresses: the sample universe's remote hosts (data_sources/README.md), hosts of the
 * generated block list (`generateBlocklist`, the same list bench-data.ts builds into
 * emerging_threats_ips.dat), and a large skewed pool drawn from the "wide" ranges that
 * bench-data.ts maps to remote ASNs and countries (every public IPv4 /12 except the one holding
 * 198.18.0.0/15, and 2400::/12-2af0::/12). With the shipped sample databases only the sample
 * networks resolve; other remotes then have ASN 0 (still scored, one side being ours).
 *
 * CLI: npx tsx bench/lib/flow-generator.ts --count N --seed S --out FILE
 *        [--start-secs 1710234000] [--flows-per-sec 1000] [--bad-share 0.001]
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateBlocklist } from '../../data_sources/tools/generate-lists.js';

/** Shares of output lines; the rest of the lines are ordinary sessions. */
export interface FlowMix {
  /** Protocol shares of ordinary sessions (normalised). ICMP is ICMPv6 (58) on IPv6. */
  readonly tcp: number;
  readonly udp: number;
  readonly icmp: number;
  /** Share of TCP/UDP sessions sent as both directions (a conversation). */
  readonly conversation: number;
  /** Share of conversations whose reverse record arrives first. */
  readonly outOfOrder: number;
  /** Share of sessions (and brute-force bursts) over IPv6. */
  readonly ipv6: number;
  /** Share of remote endpoints of sessions taken from the block list. */
  readonly listedRemote: number;
  /** Share of remote endpoints of sessions taken from the sample universe's remote hosts. */
  readonly sampleRemote: number;
  readonly scan: number;
  readonly bruteForce: number;
  readonly honeypot: number;
  readonly internal: number;
  readonly unknownDirection: number;
  readonly invalidProtocol: number;
  readonly badLine: number;
}

export const DEFAULT_FLOW_MIX: FlowMix = {
  tcp: 0.7,
  udp: 0.25,
  icmp: 0.05,
  conversation: 0.75,
  outOfOrder: 0.1,
  ipv6: 0.1,
  listedRemote: 0.05,
  sampleRemote: 0.1,
  scan: 0.05,
  bruteForce: 0.03,
  honeypot: 0.02,
  internal: 0.01,
  unknownDirection: 0.005,
  invalidProtocol: 0.003,
  badLine: 0.001,
};

/** 2024-03-12T09:00:00Z, the start of data_sources/sample-flows.jsonl. */
export const DEFAULT_START_SECS = 1_710_234_000;

/** The block list bench-data.ts builds; the generator draws listed remotes from the same rows. */
export const DEFAULT_BLOCKLIST = { count: 50_000, seed: 1 } as const;

export type LineKind =
  | 'session'
  | 'scan'
  | 'bruteForce'
  | 'honeypot'
  | 'internal'
  | 'unknownDirection'
  | 'invalidProtocol'
  | 'bad';

const LINE_KINDS: readonly LineKind[] = ['session', 'scan', 'bruteForce', 'honeypot', 'internal', 'unknownDirection', 'invalidProtocol', 'bad'];

export interface FlowGeneratorStats {
  lines: number;
  byKind: Record<LineKind, number>;
  /** Parsable lines by IP protocol number. */
  byProtocol: Record<number, number>;
  ipv6Lines: number;
  conversations: number;
  outOfOrderConversations: number;
  oneWayFlows: number;
}

export function newFlowGeneratorStats(): FlowGeneratorStats {
  return {
    lines: 0,
    byKind: Object.fromEntries(LINE_KINDS.map((k) => [k, 0])) as Record<LineKind, number>,
    byProtocol: {},
    ipv6Lines: 0,
    conversations: 0,
    outOfOrderConversations: 0,
    oneWayFlows: 0,
  };
}

export interface GenerateFlowsOptions {
  readonly count: number;
  readonly seed: number;
  /** Flow time of the first line (epoch seconds); default DEFAULT_START_SECS. */
  readonly startSecs?: number;
  readonly mix?: Partial<FlowMix>;
  /** Flow-time rate: the clock advances one second every this many lines (default 1000). */
  readonly flowsPerSec?: number;
  /** Id of the first flow; ids then increase by one per flow record (default 1). */
  readonly firstId?: number;
  readonly blocklist?: { readonly count: number; readonly seed: number };
  /** Filled in as lines are generated (the generator is lazy: read it after iterating). */
  readonly stats?: FlowGeneratorStats;
}

// ---------------------------------------------------------------------------------------------
// Address plan shared with bench-data.ts.

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;

/** First 12 bits of an IPv4 address. */
const block12 = (v4: number): number => v4 >>> 20;

/**
 * IPv4 /12 blocks (index = first 12 bits) that bench-data.ts maps to a remote ASN and country:
 * every block of public unicast space except 198.16.0.0/12, which keeps 198.18.0.0/15 in no
 * database, as in the sample universe.
 */
export function remoteV4Blocks(): number[] {
  const blocks: number[] = [];
  for (let b = 0; b < 4096; b++) {
    const a = b >>> 4;
    const second = (b & 15) << 4;
    if (a === 0 || a === 10 || a === 127 || a >= 224) continue;
    if (a === 172 && second === 16) continue;
    if (a === 100 && second >= 64 && second < 128) continue;
    if (a === 198 && second === 16) continue;
    blocks.push(b);
  }
  return blocks;
}

/** IPv6 /12 blocks (first 12 bits) bench-data.ts maps to remote ASNs: 2400::/12 to 2af0::/12. */
export const REMOTE_V6_FIRST_BLOCK = 0x240;
export const REMOTE_V6_LAST_BLOCK = 0x2af;

/** Not usable as a generated remote address although inside a remote block. */
function isSpecialV4(v4: number): boolean {
  const a = v4 >>> 24;
  const b = (v4 >>> 16) & 0xff;
  return (a === 169 && b === 254) || (a === 192 && b === 168) || (v4 >>> 8 === 0xc00000) || (v4 >>> 8 === 0xc00002);
}

const OUR_V4_PREFIX = 0xc0000200; // 192.0.2.0/24
const isOursV4 = (v4: number): boolean => v4 >>> 8 === OUR_V4_PREFIX >>> 8;

function v4Text(v4: number): string {
  return `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;
}

function v4FromText(text: string): number {
  const p = text.split('.');
  return ((Number(p[0]) << 24) >>> 0) + (Number(p[1]) << 16) + (Number(p[2]) << 8) + Number(p[3]);
}

// Sample universe (data_sources/README.md).
const OUR_CLIENTS_V4 = ['192.0.2.100', '192.0.2.130', ...Array.from({ length: 16 }, (_, i) => `192.0.2.${64 + i}`)];
const OUR_CLIENTS_V6 = ['2001:db8:1::100'];
/** Our hosts that query DNS: the clients and the DNS server forwarding. */
const OUR_RESOLVER_CLIENTS_V4 = [...OUR_CLIENTS_V4, '192.0.2.53'];
const SAMPLE_REMOTE_V4 = [
  '198.51.100.10', '198.51.100.66', '198.51.100.99', '198.51.100.245', '203.0.113.10', '203.0.113.50',
  '203.0.113.77', '203.0.113.130', '8.8.8.8', '8.8.4.4',
];
const SAMPLE_REMOTE_V6 = ['2001:db8:2::10', '2001:db8:2::66', '2001:db8:2::77', '2001:db8:4::1', '2001:4860:4860::8888'];

interface Service {
  readonly host: string;
  readonly port: number;
  readonly protocol: number;
}

const OUR_SERVICES_V4: readonly Service[] = [
  { host: '192.0.2.10', port: 443, protocol: TCP },
  { host: '192.0.2.10', port: 443, protocol: TCP },
  { host: '192.0.2.10', port: 80, protocol: TCP },
  { host: '192.0.2.25', port: 25, protocol: TCP },
  { host: '192.0.2.25', port: 587, protocol: TCP },
  { host: '192.0.2.22', port: 22, protocol: TCP },
  { host: '192.0.2.53', port: 53, protocol: TCP },
];
const OUR_SERVICES_V6: readonly Service[] = [{ host: '2001:db8:1::10', port: 443, protocol: TCP }];

/** Remote TCP ports our clients use, repeated by weight. */
const OUTBOUND_TCP_PORTS = [443, 443, 443, 443, 443, 443, 80, 80, 80, 8080, 8443, 22, 993, 587, 445, 3389, 21, 5222];
const MISC_TCP_PORTS = [21, 110, 143, 445, 1433, 3306, 3389, 5432, 5900, 6379, 8080, 31337, 6667];
const MISC_UDP_PORTS = [443, 443, 443, 500, 4500, 1194, 5353, 1900, 161, 69, 11211, 19, 27015, 3478];
const SCAN_PORTS = [22, 80, 443, 445, 3389, 5900, 8080, 1433, 3306, 6379, 23, 2323];

// ---------------------------------------------------------------------------------------------

/** xorshift32 with a multiplicative output step: small, fast and seedable. */
class Random {
  private state: number;
  constructor(seed: number) {
    // Spread the seed so that 0, 1, 2... start far apart; the state must never be 0.
    this.state = (Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0) || 0x6d2b79f5;
    for (let i = 0; i < 8; i++) this.next();
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return Math.imul(this.state, 0x2545f491) >>> 0;
  }
  /** [0, 1) */
  float(): number {
    return this.next() / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  /** Skewed index in [0, n): low indexes are much more frequent (popular hosts). */
  skewed(n: number): number {
    const u = this.float();
    return Math.floor(u * u * u * n);
  }
}

const blocklistCache = new Map<string, string[]>();

/** Listed host addresses usable as remotes: /32 rows outside our /24 and the no-database range. */
function listedHosts(count: number, seed: number): string[] {
  const key = `${count}/${seed}`;
  let hosts = blocklistCache.get(key);
  if (hosts === undefined) {
    hosts = [];
    for (const row of generateBlocklist(count, seed)) {
      if (row.network.includes('/')) continue;
      const v4 = v4FromText(row.network);
      if (isOursV4(v4) || block12(v4) === (198 << 4) + 1) continue;
      hosts.push(row.network);
    }
    blocklistCache.set(key, hosts);
  }
  return hosts;
}

interface Flow {
  readonly protocol: number;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly packets: number;
  readonly bytes: number;
  readonly flags: string | null;
  readonly startSecs: number;
  readonly endSecs: number;
}

interface Pending {
  readonly due: number;
  readonly seq: number;
  readonly id: number;
  readonly flow: Flow;
  readonly kind: LineKind;
  readonly isV6: boolean;
}

interface ScanBurst {
  scanner: string;
  isVertical: boolean;
  port: number;
  target: number;
  srcPort: number;
  remaining: number;
}

interface BruteBurst {
  attacker: string;
  target: string;
  port: number;
  isV6: boolean;
  isSsh: boolean;
  srcPort: number;
  remaining: number;
}

/** Mean lines per event, to turn line shares into event probabilities. */
const SCAN_ANSWERED = 0.2;
const HONEYPOT_ANSWERED = 0.1;
const ICMP_ANSWERED = 0.5;

function validateMix(mix: FlowMix): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(mix)) {
    if (!(typeof value === 'number' && value >= 0 && value <= 1)) problems.push(`mix.${key} (${value}) must be a number 0-1`);
  }
  const special = mix.scan + mix.bruteForce + mix.honeypot + mix.internal + mix.unknownDirection + mix.invalidProtocol + mix.badLine;
  if (special > 1) problems.push(`mix shares of special lines add up to ${special}, more than 1`);
  if (mix.tcp + mix.udp + mix.icmp <= 0) problems.push('mix.tcp + mix.udp + mix.icmp must be above 0');
  if (mix.listedRemote + mix.sampleRemote > 1) problems.push('mix.listedRemote + mix.sampleRemote must be at most 1');
  if (problems.length > 0) throw new RangeError(problems.join('; '));
}

function line(id: number, f: Flow): string {
  return (
    `{"id":${id},"start_timestamp_unix_secs":${f.startSecs},"end_timestamp_unix_secs":${f.endSecs},"protocol":${f.protocol}` +
    `,"src_ip":"${f.src}","src_port":${f.srcPort},"dst_ip":"${f.dst}","dst_port":${f.dstPort}` +
    `,"packets":${f.packets},"bytes":${f.bytes}${f.flags === null ? '' : `,"flags":"${f.flags}"`},"tos":0}`
  );
}

const BAD_LINE_KINDS = 12;

export function* generateFlows(options: GenerateFlowsOptions): Generator<string, void, undefined> {
  const { count } = options;
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count (${count}) must be a non-negative integer`);
  const generator = new FlowMixGenerator(options);
  while (generator.emitted < count) yield generator.nextLine();
}

/** Reverse records waiting for their turn, ordered by (due line, creation). A few dozen at most. */
class DelayQueue {
  private readonly heap: Pending[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Line index at which the head is due; Infinity when empty. */
  get headDue(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.due;
  }

  push(p: Pending): void {
    const heap = this.heap;
    heap.push(p);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(p, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = p;
  }

  pop(): Pending {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
        if (!before(heap[c]!, last)) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

const LOCAL_V6_HOSTS = ['2001:db8:1::1', '2001:db8:1::10', '2001:db8:1::100'];
const OUR_OTHER_V4 = ['192.0.2.1', ...OUR_CLIENTS_V4];
const PROBE_FLAGS = ['.....F', '......', 'U.P..F'];
const SSH_TARGETS_V4 = ['192.0.2.22', '192.0.2.22', '192.0.2.25', '192.0.2.10'];
const GOOGLE_DNS_V4 = ['8.8.8.8', '8.8.4.4'];
const TRANSIT_PORTS = [53, 80, 443, 123];
const INVALID_PROTOCOLS = [47, 50, 132, 89];
const PROBE_BYTES = [40, 44, 60];

/**
 * The state of one generated stream: random source, address pools, the reverse records waiting to
 * be emitted, and the scan and brute-force bursts in progress. `nextLine` returns one line; the
 * event methods emit the first line of an event and queue its reverse record, if any.
 */
class FlowMixGenerator {
  emitted = 0;
  private readonly count: number;
  private readonly startSecs: number;
  private readonly flowsPerSec: number;
  private readonly mix: FlowMix;
  private readonly stats: FlowGeneratorStats;
  private readonly rng: Random;
  private readonly listed: string[];
  private readonly v4Blocks: number[];
  private readonly poolV4: string[];
  private readonly poolV6: string[];
  private readonly protoTotal: number;
  /** Cumulative event probabilities, in draw order. */
  private readonly thresholds: [LineKind, number][] = [];
  private readonly pending = new DelayQueue();
  private nextId: number;
  private seq = 0;
  private scanBurst: ScanBurst | null = null;
  private bruteBurst: BruteBurst | null = null;

  constructor(options: GenerateFlowsOptions) {
    this.count = options.count;
    this.startSecs = options.startSecs ?? DEFAULT_START_SECS;
    if (!Number.isSafeInteger(this.startSecs) || this.startSecs < 0) throw new RangeError(`startSecs (${this.startSecs}) must be a non-negative integer`);
    this.flowsPerSec = options.flowsPerSec ?? 1000;
    if (!(this.flowsPerSec > 0)) throw new RangeError(`flowsPerSec (${this.flowsPerSec}) must be above 0`);
    const mix: FlowMix = { ...DEFAULT_FLOW_MIX, ...options.mix };
    validateMix(mix);
    this.mix = mix;
    this.stats = options.stats ?? newFlowGeneratorStats();
    this.rng = new Random(options.seed);
    const blocklist = options.blocklist ?? DEFAULT_BLOCKLIST;
    this.listed = listedHosts(blocklist.count, blocklist.seed);
    this.nextId = options.firstId ?? 1;

    // Remote pools: fixed sets reused with a skew (popular servers); remote() adds fresh ones.
    this.v4Blocks = remoteV4Blocks();
    this.poolV4 = Array.from({ length: 65_536 }, () => this.randomRemoteV4());
    this.poolV6 = Array.from({ length: 8_192 }, () => this.randomRemoteV6());

    // Event probabilities from line shares: p(kind) ∝ share / mean lines per event.
    const special = mix.scan + mix.bruteForce + mix.honeypot + mix.internal + mix.unknownDirection + mix.invalidProtocol + mix.badLine;
    this.protoTotal = mix.tcp + mix.udp + mix.icmp;
    const sessionLines = ((mix.tcp + mix.udp) / this.protoTotal) * (1 + mix.conversation) + (mix.icmp / this.protoTotal) * (1 + ICMP_ANSWERED);
    const weights: [LineKind, number][] = [
      ['bad', mix.badLine],
      ['scan', mix.scan / (1 + SCAN_ANSWERED)],
      ['bruteForce', mix.bruteForce / 2],
      ['honeypot', mix.honeypot / (1 + HONEYPOT_ANSWERED)],
      ['internal', mix.internal / 2],
      ['unknownDirection', mix.unknownDirection],
      ['invalidProtocol', mix.invalidProtocol],
      ['session', (1 - special) / sessionLines],
    ];
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    let acc = 0;
    for (const [kind, w] of weights) this.thresholds.push([kind, (acc += w / total)]);
  }

  nextLine(): string {
    if (this.pending.size > 0 && (this.pending.headDue <= this.emitted || this.room() <= 0)) {
      const p = this.pending.pop();
      this.countLine(p.kind, p.flow.protocol, p.isV6);
      this.emitted++;
      return line(p.id, p.flow);
    }
    const u = this.rng.float();
    let kind: LineKind = 'session';
    for (const [k, threshold] of this.thresholds) {
      if (u < threshold) {
        kind = k;
        break;
      }
    }
    switch (kind) {
      case 'bad': return this.badLine();
      case 'scan': return this.scanLine();
      case 'bruteForce': return this.bruteForceLine();
      case 'honeypot': return this.honeypotLine();
      case 'internal': return this.internalLine();
      case 'unknownDirection': return this.unknownDirectionLine();
      case 'invalidProtocol': return this.invalidProtocolLine();
      default: return this.sessionLine();
    }
  }

  // --- addresses --------------------------------------------------------------------------------

  private randomRemoteV4(): string {
    const rng = this.rng;
    for (;;) {
      const v4 = ((this.v4Blocks[rng.int(this.v4Blocks.length)]! << 20) | (rng.next() & 0xfffff)) >>> 0;
      if (!isSpecialV4(v4) && !isOursV4(v4) && (v4 & 0xff) !== 0 && (v4 & 0xff) !== 255) return v4Text(v4);
    }
  }

  private randomRemoteV6(): string {
    const rng = this.rng;
    const first = ((rng.range(REMOTE_V6_FIRST_BLOCK, REMOTE_V6_LAST_BLOCK) << 4) | rng.int(16)).toString(16);
    return `${first}:${(1 + rng.int(0xffff)).toString(16)}:${(1 + rng.int(0xffff)).toString(16)}::${(1 + rng.int(0xffff)).toString(16)}`;
  }

  private remote(isV6: boolean): string {
    const { rng, mix, listed } = this;
    const u = rng.float();
    if (u < mix.sampleRemote) {
      if (isV6) return rng.chance(0.5) ? rng.pick(SAMPLE_REMOTE_V6) : `2001:db8:2::${(1 + rng.int(0xfffe)).toString(16)}`;
      if (rng.chance(0.5)) return rng.pick(SAMPLE_REMOTE_V4);
      return `${rng.chance(0.5) ? '198.51.100' : '203.0.113'}.${1 + rng.int(254)}`;
    }
    if (!isV6 && u < mix.sampleRemote + mix.listedRemote && listed.length > 0) return listed[rng.skewed(listed.length)]!;
    if (rng.chance(0.3)) return isV6 ? this.randomRemoteV6() : this.randomRemoteV4();
    return isV6 ? this.poolV6[rng.skewed(this.poolV6.length)]! : this.poolV4[rng.skewed(this.poolV4.length)]!;
  }

  private anyLocalV4(): string {
    return `192.0.2.${1 + this.rng.int(254)}`;
  }

  private anyLocalV6(): string {
    const rng = this.rng;
    return rng.chance(0.7) ? rng.pick(LOCAL_V6_HOSTS) : `2001:db8:1::${(1 + rng.int(0xfffe)).toString(16)}`;
  }

  private ephemeral(): number {
    return 32768 + this.rng.int(28232);
  }

  private ourClient(isV6: boolean): string {
    return isV6 ? this.rng.pick(OUR_CLIENTS_V6) : this.rng.pick(OUR_CLIENTS_V4);
  }

  // --- emitting ----------------------------------------------------------------------------------

  private now(): number {
    return this.startSecs + Math.floor(this.emitted / this.flowsPerSec);
  }

  /** Lines still free once the queued reverse records are emitted. */
  private room(): number {
    return this.count - this.emitted - this.pending.size;
  }

  private countLine(kind: LineKind, protocol: number, isV6: boolean): void {
    const stats = this.stats;
    stats.lines++;
    stats.byKind[kind]++;
    if (kind !== 'bad') stats.byProtocol[protocol] = (stats.byProtocol[protocol] ?? 0) + 1;
    if (isV6) stats.ipv6Lines++;
  }

  private take(kind: LineKind, flow: Flow, isV6: boolean): string {
    this.countLine(kind, flow.protocol, isV6);
    this.emitted++;
    return line(this.nextId++, flow);
  }

  /** Emits `first` now and queues `second` a few lines later; ids follow creation order. */
  private pair(kind: LineKind, first: Flow, second: Flow, isV6: boolean, maxDelay: number): string {
    const firstId = this.nextId++;
    const secondId = this.nextId++;
    const delay = 1 + Math.min(maxDelay, Math.floor(-Math.log(1 - this.rng.float()) * (maxDelay / 4)));
    this.pending.push({ due: this.emitted + delay, seq: this.seq++, id: secondId, flow: second, kind, isV6 });
    this.countLine(kind, first.protocol, isV6);
    this.emitted++;
    return line(firstId, first);
  }

  /** A conversation, or a one-way flow when `reply` is null or the output has no room for two. */
  private session(kind: LineKind, request: Flow, reply: Flow | null, isV6: boolean): string {
    if (reply === null || this.room() < 2) {
      this.stats.oneWayFlows++;
      return this.take(kind, request, isV6);
    }
    this.stats.conversations++;
    if (this.rng.chance(this.mix.outOfOrder)) {
      this.stats.outOfOrderConversations++;
      // The reply's record is exported first; it started later, so the initiator stays clear.
      const later = reply.startSecs > request.startSecs ? reply : { ...reply, startSecs: request.startSecs + 1, endSecs: Math.max(reply.endSecs, request.startSecs + 1) };
      return this.pair(kind, later, request, isV6, 16);
    }
    return this.pair(kind, request, reply, isV6, 64);
  }

  // --- events ------------------------------------------------------------------------------------

  private counts(minPackets: number, maxPackets: number, minBytesPerPacket: number, maxBytesPerPacket: number): [number, number] {
    const packets = this.rng.range(minPackets, maxPackets);
    return [packets, packets * this.rng.range(minBytesPerPacket, maxBytesPerPacket)];
  }

  private sessionLine(): string {
    const { rng, mix } = this;
    const isV6 = rng.chance(mix.ipv6);
    const t = this.now();
    const u = rng.float() * this.protoTotal;
    if (u < mix.icmp) return this.pingLine(isV6, t);
    const isTcp = u < mix.icmp + mix.tcp;
    const protocol = isTcp ? TCP : UDP;
    let client: string;
    let server: string;
    let clientPort = this.ephemeral();
    let serverPort: number;
    let reqPackets: number;
    let reqBytes: number;
    let respPackets: number;
    let respBytes: number;
    if (isTcp) {
      const v = rng.float();
      if (v < 0.6) {
        client = this.ourClient(isV6);
        server = this.remote(isV6);
        serverPort = rng.pick(OUTBOUND_TCP_PORTS);
      } else if (v < 0.9) {
        const service = isV6 ? rng.pick(OUR_SERVICES_V6) : rng.pick(OUR_SERVICES_V4);
        client = this.remote(isV6);
        server = service.host;
        serverPort = service.port;
      } else {
        const outbound = rng.chance(0.5);
        client = outbound ? this.ourClient(isV6) : this.remote(isV6);
        server = outbound ? this.remote(isV6) : isV6 ? this.anyLocalV6() : this.anyLocalV4();
        serverPort = rng.pick(MISC_TCP_PORTS);
      }
      [reqPackets, reqBytes] = this.counts(3, rng.chance(0.2) ? 400 : 40, 52, 400);
      [respPackets, respBytes] = this.counts(Math.max(1, reqPackets >> 1), reqPackets * 3, 200, 1400);
    } else {
      const v = rng.float();
      if (v < 0.5) {
        client = isV6 ? rng.pick(OUR_CLIENTS_V6) : rng.pick(OUR_RESOLVER_CLIENTS_V4);
        server = rng.chance(0.3) ? (isV6 ? '2001:4860:4860::8888' : rng.pick(GOOGLE_DNS_V4)) : this.remote(isV6);
        serverPort = 53;
      } else if (v < 0.7) {
        client = this.remote(isV6);
        server = isV6 ? this.anyLocalV6() : '192.0.2.53';
        serverPort = 53;
      } else if (v < 0.8) {
        client = isV6 ? rng.pick(OUR_CLIENTS_V6) : `192.0.2.${64 + rng.int(16)}`;
        server = this.remote(isV6);
        clientPort = 123;
        serverPort = 123;
      } else {
        const outbound = rng.chance(0.7);
        client = outbound ? this.ourClient(isV6) : this.remote(isV6);
        server = outbound ? this.remote(isV6) : isV6 ? this.anyLocalV6() : this.anyLocalV4();
        serverPort = rng.pick(MISC_UDP_PORTS);
      }
      const isSmall = serverPort === 53 || serverPort === 123;
      reqPackets = isSmall ? rng.range(1, 2) : rng.range(1, 60);
      reqBytes = reqPackets * rng.range(60, serverPort === 443 ? 1350 : 300);
      respPackets = isSmall ? reqPackets : rng.range(1, reqPackets * 2);
      respBytes = respPackets * rng.range(60, 1200);
    }
    const duration = reqPackets > 50 ? rng.range(5, 300) : rng.int(5);
    const flags = isTcp ? (rng.chance(0.8) ? '.AP.SF' : '.AP.S.') : null;
    const request: Flow = { protocol, src: client, srcPort: clientPort, dst: server, dstPort: serverPort, packets: reqPackets, bytes: reqBytes, flags, startSecs: t, endSecs: t + duration };
    if (!rng.chance(mix.conversation)) {
      // A one-way TCP record is sometimes an unanswered SYN (nfdump writes ECN SYNs in hex).
      if (isTcp && rng.chance(0.05)) {
        const packets = rng.range(1, 3);
        const syn: Flow = { ...request, packets, bytes: 60 * rng.range(1, 3), flags: rng.chance(0.1) ? '0xc2' : '....S.', endSecs: t + rng.int(4) };
        return this.session('session', syn, null, isV6);
      }
      return this.session('session', request, null, isV6);
    }
    const replyStart = t + (rng.chance(0.3) ? 1 : 0);
    const reply: Flow = { protocol, src: server, srcPort: serverPort, dst: client, dstPort: clientPort, packets: respPackets, bytes: respBytes, flags, startSecs: replyStart, endSecs: Math.max(t + duration, replyStart) };
    return this.session('session', request, reply, isV6);
  }

  /** ICMP echo: request and reply are separate one-way records (ICMP is never matched). */
  private pingLine(isV6: boolean, t: number): string {
    const rng = this.rng;
    const ourHost = isV6 ? this.anyLocalV6() : rng.pick(OUR_CLIENTS_V4);
    const other = this.remote(isV6);
    const outbound = rng.chance(0.6);
    const packets = rng.range(1, 5);
    const request: Flow = {
      protocol: isV6 ? ICMPV6 : ICMP, src: outbound ? ourHost : other, srcPort: 0, dst: outbound ? other : ourHost,
      dstPort: isV6 ? 128 * 256 : 8 * 256, packets, bytes: packets * 84, flags: null, startSecs: t, endSecs: t + rng.int(5),
    };
    if (!rng.chance(ICMP_ANSWERED) || this.room() < 2) return this.session('session', request, null, isV6);
    const answer: Flow = { ...request, src: request.dst, dst: request.src, dstPort: isV6 ? 129 * 256 : 0 };
    this.stats.oneWayFlows += 2;
    return this.pair('session', request, answer, isV6, 8);
  }

  /** SYN-only probes from one scanner: many hosts on one port, or many ports of one host. */
  private scanLine(): string {
    const rng = this.rng;
    if (this.scanBurst === null || this.scanBurst.remaining <= 0) {
      const u = rng.float();
      this.scanBurst = {
        scanner: u < 0.4 && this.listed.length > 0 ? rng.pick(this.listed) : u < 0.5 ? '203.0.113.10' : this.remote(false),
        isVertical: rng.chance(0.3),
        port: rng.pick(SCAN_PORTS),
        target: 1 + rng.int(254),
        srcPort: this.ephemeral(),
        remaining: rng.range(50, 500),
      };
    }
    const b = this.scanBurst;
    b.remaining--;
    const t = this.now();
    const target = b.isVertical ? `192.0.2.${b.target}` : this.anyLocalV4();
    const port = b.isVertical ? 1 + rng.int(10_000) : b.port;
    const packets = rng.range(1, 2);
    const flags = rng.chance(0.95) ? '....S.' : rng.pick(PROBE_FLAGS);
    const probe: Flow = { protocol: TCP, src: b.scanner, srcPort: b.srcPort, dst: target, dstPort: port, packets, bytes: packets * rng.pick(PROBE_BYTES), flags, startSecs: t, endSecs: t };
    if (!rng.chance(SCAN_ANSWERED) || this.room() < 2) return this.session('scan', probe, null, false);
    const rst: Flow = { ...probe, src: target, srcPort: port, dst: b.scanner, dstPort: b.srcPort, packets: 1, bytes: 40, flags: '.A.R..' };
    this.stats.conversations++;
    return this.pair('scan', probe, rst, false, 8);
  }

  /** Login attempts from one attacker, with the packet/byte signatures of reference §5.14-5.15. */
  private bruteForceLine(): string {
    const rng = this.rng;
    if (this.bruteBurst === null || this.bruteBurst.remaining <= 0) {
      const isV6 = rng.chance(this.mix.ipv6);
      const isSsh = rng.chance(0.6);
      this.bruteBurst = {
        attacker: !isV6 && rng.chance(0.5) && this.listed.length > 0 ? rng.pick(this.listed) : this.remote(isV6),
        target: isV6 ? (isSsh ? '2001:db8:1::1' : '2001:db8:1::10') : isSsh ? rng.pick(SSH_TARGETS_V4) : '192.0.2.10',
        port: isSsh ? 22 : isV6 || rng.chance(0.5) ? 443 : 80,
        isV6,
        isSsh,
        srcPort: this.ephemeral(),
        remaining: rng.range(20, 200),
      };
    }
    const b = this.bruteBurst;
    b.remaining--;
    b.srcPort = b.srcPort >= 60999 ? 32768 : b.srcPort + 1 + rng.int(3);
    const t = this.now();
    let packets: number;
    let bytes: number;
    if (b.isSsh) {
      [packets, bytes] = this.counts(11, 51, 80, 140);
    } else if (b.port === 80) {
      packets = rng.range(5, 12);
      bytes = rng.range(363, 1130);
    } else {
      packets = rng.range(7, 17);
      bytes = rng.range(789, 2885);
    }
    const attempt: Flow = { protocol: TCP, src: b.attacker, srcPort: b.srcPort, dst: b.target, dstPort: b.port, packets, bytes, flags: '.AP.SF', startSecs: t, endSecs: t + rng.int(3) };
    const answer: Flow = { ...attempt, src: b.target, srcPort: b.port, dst: b.attacker, dstPort: b.srcPort, packets: Math.max(1, packets - rng.int(3)), bytes: bytes + rng.range(200, 3000) };
    return this.session('bruteForce', attempt, answer, b.isV6);
  }

  /** Telnet probes to local 23/2323 (discarded), sometimes answered by the honeypot. */
  private honeypotLine(): string {
    const rng = this.rng;
    const t = this.now();
    const port = rng.chance(0.8) ? 23 : 2323;
    const src = rng.chance(0.3) && this.listed.length > 0 ? rng.pick(this.listed) : this.remote(false);
    const probe: Flow = { protocol: TCP, src, srcPort: this.ephemeral(), dst: this.anyLocalV4(), dstPort: port, packets: rng.range(1, 3), bytes: 60, flags: '....S.', startSecs: t, endSecs: t };
    if (!rng.chance(HONEYPOT_ANSWERED) || this.room() < 2) return this.session('honeypot', probe, null, false);
    const reply: Flow = { ...probe, src: probe.dst, srcPort: port, dst: probe.src, dstPort: probe.srcPort, packets: 1, bytes: 60, flags: '.A..S.' };
    this.stats.conversations++;
    return this.pair('honeypot', probe, reply, false, 8);
  }

  private internalLine(): string {
    const rng = this.rng;
    const t = this.now();
    const service = rng.pick(OUR_SERVICES_V4);
    const request: Flow = { protocol: TCP, src: rng.pick(OUR_CLIENTS_V4), srcPort: this.ephemeral(), dst: service.host, dstPort: service.port, packets: rng.range(3, 30), bytes: rng.range(200, 9000), flags: '.AP.SF', startSecs: t, endSecs: t + rng.int(5) };
    const reply: Flow = { ...request, src: request.dst, srcPort: request.dstPort, dst: request.src, dstPort: request.srcPort };
    return this.session('internal', request, rng.chance(0.9) ? reply : null, false);
  }

  private unknownDirectionLine(): string {
    const rng = this.rng;
    const t = this.now();
    const isTcp = rng.chance(0.5);
    const flow: Flow = { protocol: isTcp ? TCP : UDP, src: this.remote(false), srcPort: this.ephemeral(), dst: this.remote(false), dstPort: rng.pick(TRANSIT_PORTS), packets: rng.range(1, 10), bytes: rng.range(60, 4000), flags: isTcp ? '.AP.SF' : null, startSecs: t, endSecs: t + rng.int(3) };
    this.stats.oneWayFlows++;
    return this.take('unknownDirection', flow, false);
  }

  private invalidProtocolLine(): string {
    const rng = this.rng;
    const t = this.now();
    const outbound = rng.chance(0.5);
    const ours = rng.pick(OUR_OTHER_V4);
    const other = this.remote(false);
    const flow: Flow = { protocol: rng.pick(INVALID_PROTOCOLS), src: outbound ? ours : other, srcPort: 0, dst: outbound ? other : ours, dstPort: 0, packets: rng.range(1, 200), bytes: rng.range(100, 200_000), flags: null, startSecs: t, endSecs: t + rng.int(60) };
    this.stats.oneWayFlows++;
    return this.take('invalidProtocol', flow, false);
  }

  /** One line the parser must refuse; most carry an id, as a misbehaving exporter's would. */
  private badLine(): string {
    const rng = this.rng;
    const t = this.now();
    const id = this.nextId++;
    const good = line(id, { protocol: TCP, src: this.remote(false), srcPort: this.ephemeral(), dst: this.anyLocalV4(), dstPort: 443, packets: 4, bytes: 400, flags: '.AP.SF', startSecs: t, endSecs: t + 1 });
    this.countLine('bad', 0, false);
    this.emitted++;
    switch (rng.int(BAD_LINE_KINDS)) {
      case 0: return good.slice(0, 20 + rng.int(good.length - 30)); // truncated: not JSON
      case 1: return 'garbage';
      case 2: return `[${id},6]`;
      case 3: return good.replace(/"dst_port":\d+,/, '');
      case 4: return good.replace(/"src_port":(\d+)/, '"src_port":"$1"');
      case 5: return good.replace(/"dst_port":\d+/, '"dst_port":70000');
      case 6: return good.replace(/"protocol":\d+/, '"protocol":256');
      case 7: return good.replace(/"src_ip":"[^"]*"/, '"src_ip":"300.1.2.3"');
      case 8: return good.replace(/"end_timestamp_unix_secs":\d+/, `"end_timestamp_unix_secs":${t - 10}`);
      case 9: return good.replace(/,"tos":0}$/, ',"tos":0,"src_ip_int":1}');
      case 10: return good.replace(/"packets":\d+/, '"packets":-1');
      default: return good.replace(/"flags":"[^"]*"/, '"flags":"SYN"');
    }
  }
}

/** Writes `generateFlows(options)` to `path`, one line each, and returns the stats. */
export function writeFlowsFile(path: string, options: GenerateFlowsOptions): FlowGeneratorStats {
  const stats = options.stats ?? newFlowGeneratorStats();
  const fd = openSync(path, 'w');
  try {
    // Lines are ASCII: copy each into one reused buffer and write it when nearly full.
    const buffer = Buffer.allocUnsafe(1 << 22);
    let used = 0;
    for (const text of generateFlows({ ...options, stats })) {
      if (used + text.length + 1 > buffer.length) {
        writeSync(fd, buffer, 0, used);
        used = 0;
      }
      used += buffer.write(text, used, 'latin1');
      buffer[used++] = 10;
    }
    if (used > 0) writeSync(fd, buffer, 0, used);
  } finally {
    closeSync(fd);
  }
  return stats;
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      'start-secs': { type: 'string', default: String(DEFAULT_START_SECS) },
      'flows-per-sec': { type: 'string', default: '1000' },
      'bad-share': { type: 'string' },
    },
  });
  const problems: string[] = [];
  const count = Number(values.count);
  const seed = Number(values.seed);
  const startSecs = Number(values['start-secs']);
  const flowsPerSec = Number(values['flows-per-sec']);
  const badShare = values['bad-share'] === undefined ? DEFAULT_FLOW_MIX.badLine : Number(values['bad-share']);
  if (values.count === undefined || !Number.isSafeInteger(count) || count < 0) problems.push(`--count (${values.count}) must be a non-negative integer`);
  if (!Number.isInteger(seed)) problems.push(`--seed (${values.seed}) must be an integer`);
  if (values.out === undefined) problems.push('--out is required');
  if (!Number.isSafeInteger(startSecs) || startSecs < 0) problems.push(`--start-secs (${values['start-secs']}) must be epoch seconds`);
  if (!(flowsPerSec > 0)) problems.push(`--flows-per-sec (${values['flows-per-sec']}) must be above 0`);
  if (!(badShare >= 0 && badShare <= 1)) problems.push(`--bad-share (${values['bad-share']}) must be 0-1`);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.exitCode = 1;
    return;
  }
  const out = resolve(values.out!);
  const started = performance.now();
  const stats = writeFlowsFile(out, { count, seed, startSecs, flowsPerSec, mix: { badLine: badShare } });
  const secs = (performance.now() - started) / 1000;
  const share = (n: number): string => `${((100 * n) / Math.max(1, stats.lines)).toFixed(2)}%`;
  process.stdout.write(
    `wrote ${out}: ${stats.lines} lines in ${secs.toFixed(2)} s (${Math.round(stats.lines / secs)} lines/s)\n` +
      `  kinds: ${LINE_KINDS.map((k) => `${k} ${share(stats.byKind[k])}`).join(', ')}\n` +
      `  protocols: ${Object.entries(stats.byProtocol).map(([p, n]) => `${p} ${share(n)}`).join(', ')}; IPv6 ${share(stats.ipv6Lines)}\n` +
      `  conversations ${stats.conversations} (${stats.outOfOrderConversations} reply first), one-way ${stats.oneWayFlows}\n`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2));
}
