import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBenchData } from '../../bench/lib/bench-data.js';
import {
  DEFAULT_FLOW_MIX,
  generateFlows,
  newFlowGeneratorStats,
  remoteV4Blocks,
  writeFlowsFile,
  type FlowGeneratorStats,
  type GenerateFlowsOptions,
} from '../../bench/lib/flow-generator.js';
import type { Flow } from '../../bolts/flow.js';
import { parseIp } from '../../bolts/lookup/ip-address.js';
import { MmdbReader } from '../../bolts/lookup/mmdb-reader.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';

// A small block list keeps the tests fast; the generator and bench-data take the same parameters.
const BLOCKLIST = { count: 2_000, seed: 7 };
const START = 1_710_234_000;

function generate(options: Partial<GenerateFlowsOptions> & { count: number; seed: number }): { lines: string[]; stats: FlowGeneratorStats } {
  const stats = newFlowGeneratorStats();
  const lines = [...generateFlows({ startSecs: START, blocklist: BLOCKLIST, ...options, stats })];
  return { lines, stats };
}

function parseAll(lines: readonly string[]): { flows: Flow[]; failures: string[] } {
  const flows: Flow[] = [];
  const failures: string[] = [];
  for (const line of lines) {
    const result = parseFlowLine(line, 0);
    if (result.ok) flows.push(result.flow);
    else failures.push(result.reason);
  }
  return { flows, failures };
}

const isLocal = (text: string): boolean => text.startsWith('192.0.2.') || text.startsWith('2001:db8:1:');

describe('flow generator', () => {
  const sample = generate({ count: 60_000, seed: 11 });
  const parsed = parseAll(sample.lines);

  it('produces exactly `count` lines, the same ones for the same seed', () => {
    expect(sample.lines).toHaveLength(60_000);
    const again = generate({ count: 60_000, seed: 11 });
    expect(again.lines).toEqual(sample.lines);
    expect(generate({ count: 0, seed: 1 }).lines).toEqual([]);
    expect(generate({ count: 1, seed: 1 }).lines).toHaveLength(1);
  });

  it('gives a different stream for another seed', () => {
    const other = generate({ count: 1_000, seed: 12 });
    expect(other.lines).not.toEqual(sample.lines.slice(0, 1_000));
  });

  it('writes the same lines to a file as it yields', () => {
    const dir = mkdtempSync(join(tmpdir(), 'themis-flowgen-'));
    try {
      const path = join(dir, 'flows.jsonl');
      const stats = writeFlowsFile(path, { count: 5_000, seed: 11, startSecs: START, blocklist: BLOCKLIST });
      expect(readFileSync(path, 'utf8')).toBe(`${generate({ count: 5_000, seed: 11 }).lines.join('\n')}\n`);
      expect(stats.lines).toBe(5_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes every line parse except the intended bad share', () => {
    expect(parsed.failures).toHaveLength(sample.stats.byKind.bad);
    // 0.1% of 60,000 = 60; binomial spread is about ±8.
    expect(sample.stats.byKind.bad).toBeGreaterThan(30);
    expect(sample.stats.byKind.bad).toBeLessThan(90);
    const clean = generate({ count: 20_000, seed: 3, mix: { badLine: 0 } });
    expect(parseAll(clean.lines).failures).toEqual([]);
    const dirty = generate({ count: 20_000, seed: 3, mix: { badLine: 0.05 } });
    const dirtyFailures = parseAll(dirty.lines).failures;
    expect(dirtyFailures).toHaveLength(dirty.stats.byKind.bad);
    expect(dirtyFailures.length / 20_000).toBeCloseTo(0.05, 1);
    // Every kind of bad line the generator writes is among them.
    const kinds = [/^invalid JSON: /, /^not a JSON object$/, /^missing field dst_port$/, /^src_port must be/, /^dst_port must be/, /^protocol must be/, /^src_ip must be/, /^end_timestamp_unix_secs \(/, /^src_ip_int \(/, /^packets must be/, /^flags must be/];
    for (const kind of kinds) expect(dirtyFailures.some((r) => kind.test(r)), String(kind)).toBe(true);
    expect(dirtyFailures.every((r) => kinds.some((kind) => kind.test(r)))).toBe(true);
  });

  it('gives every flow a unique id', () => {
    const ids = new Set(parsed.flows.map((f) => f.id));
    expect(ids.size).toBe(parsed.flows.length);
  });

  it('matches the configured mix of line kinds, protocols and IPv6 roughly', () => {
    const share = (n: number): number => n / sample.stats.lines;
    const { byKind } = sample.stats;
    expect(share(byKind.scan)).toBeCloseTo(DEFAULT_FLOW_MIX.scan, 1);
    expect(share(byKind.bruteForce)).toBeCloseTo(DEFAULT_FLOW_MIX.bruteForce, 1);
    expect(share(byKind.honeypot)).toBeCloseTo(DEFAULT_FLOW_MIX.honeypot, 2);
    expect(share(byKind.internal)).toBeCloseTo(DEFAULT_FLOW_MIX.internal, 2);
    expect(share(byKind.session)).toBeGreaterThan(0.85);
    const byProtocol = new Map<number, number>();
    for (const f of parsed.flows) byProtocol.set(f.protocol, (byProtocol.get(f.protocol) ?? 0) + 1);
    const tcp = (byProtocol.get(6) ?? 0) / parsed.flows.length;
    const udp = (byProtocol.get(17) ?? 0) / parsed.flows.length;
    const icmp = ((byProtocol.get(1) ?? 0) + (byProtocol.get(58) ?? 0)) / parsed.flows.length;
    expect(tcp).toBeGreaterThan(0.65);
    expect(tcp).toBeLessThan(0.82);
    expect(udp).toBeGreaterThan(0.15);
    expect(udp).toBeLessThan(0.3);
    expect(icmp).toBeGreaterThan(0.02);
    expect(icmp).toBeLessThan(0.07);
    const ipv6 = parsed.flows.filter((f) => f.srcIp.version === 6).length / parsed.flows.length;
    expect(ipv6).toBeGreaterThan(0.05);
    expect(ipv6).toBeLessThan(0.15);
    expect(sample.stats.byProtocol[6]).toBe(byProtocol.get(6));
  });

  it('pairs most TCP/UDP sessions with a reverse record arriving soon after, sometimes first', () => {
    // The reverse of a record has its endpoints swapped; look for it among the next 70 records.
    const WINDOW = 70;
    const key = (f: Flow, reverse: boolean): string =>
      reverse ? `${f.protocol} ${f.dstIp.text}:${f.dstPort} ${f.srcIp.text}:${f.srcPort}` : `${f.protocol} ${f.srcIp.text}:${f.srcPort} ${f.dstIp.text}:${f.dstPort}`;
    const flows = parsed.flows;
    const paired = new Set<number>();
    let pairs = 0;
    let replyFirst = 0;
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i]!;
      if ((f.protocol !== 6 && f.protocol !== 17) || paired.has(i)) continue;
      const wanted = key(f, true);
      for (let j = i + 1; j < Math.min(flows.length, i + WINDOW); j++) {
        if (paired.has(j) || key(flows[j]!, false) !== wanted) continue;
        paired.add(i).add(j);
        pairs++;
        // A reply exported first started later than its request.
        if (f.startSecs > flows[j]!.startSecs) replyFirst++;
        break;
      }
    }
    const tcpUdp = flows.filter((f) => f.protocol === 6 || f.protocol === 17).length;
    expect((2 * pairs) / tcpUdp).toBeGreaterThan(0.5);
    expect(replyFirst / pairs).toBeGreaterThan(0.03);
    expect(replyFirst / pairs).toBeLessThan(0.2);
    expect(sample.stats.outOfOrderConversations / sample.stats.conversations).toBeCloseTo(DEFAULT_FLOW_MIX.outOfOrder, 1);
    expect(sample.stats.oneWayFlows).toBeGreaterThan(0);
  });

  it('contains SYN scans across many local hosts and SSH/HTTP brute-force bursts', () => {
    const synByScanner = new Map<string, Set<string>>();
    for (const f of parsed.flows) {
      if (f.protocol !== 6 || f.flags !== '....S.' || !isLocal(f.dstIp.text) || isLocal(f.srcIp.text)) continue;
      let targets = synByScanner.get(f.srcIp.text);
      if (targets === undefined) synByScanner.set(f.srcIp.text, (targets = new Set()));
      targets.add(`${f.dstIp.text}:${f.dstPort}`);
    }
    expect(Math.max(...[...synByScanner.values()].map((s) => s.size))).toBeGreaterThan(40);
    const ssh = parsed.flows.filter((f) => f.protocol === 6 && f.dstPort === 22 && isLocal(f.dstIp.text) && f.packetsSent >= 11 && f.packetsSent <= 51);
    const http = parsed.flows.filter(
      (f) => f.protocol === 6 && isLocal(f.dstIp.text) && ((f.dstPort === 80 && f.packetsSent <= 12 && f.bytesSent >= 363 && f.bytesSent <= 1130) || (f.dstPort === 443 && f.packetsSent <= 17 && f.bytesSent >= 789 && f.bytesSent <= 2885)),
    );
    expect(ssh.length).toBeGreaterThan(200);
    expect(http.length).toBeGreaterThan(200);
  });

  it('keeps flow times in 2024, starting at startSecs and advancing with the line count', () => {
    const starts = parsed.flows.map((f) => f.startSecs);
    expect(Math.min(...starts)).toBe(START);
    // One second per 1,000 lines, plus the one-second lag a reply may have.
    expect(Math.max(...starts)).toBeLessThanOrEqual(START + 60 + 1);
    expect(parsed.flows.at(-1)!.startSecs).toBeGreaterThanOrEqual(START + 58);
  });

  it('draws many distinct remote hosts, including block-list and sample-universe ones', () => {
    const remotes = new Set<string>();
    for (const f of parsed.flows) {
      if (isLocal(f.srcIp.text) !== isLocal(f.dstIp.text)) remotes.add(isLocal(f.srcIp.text) ? f.dstIp.text : f.srcIp.text);
    }
    expect(remotes.size).toBeGreaterThan(10_000);
    expect([...remotes].some((r) => r.startsWith('198.51.100.') || r.startsWith('203.0.113.'))).toBe(true);
  });

  it('rejects a bad mix with every problem named', () => {
    expect(() => [...generateFlows({ count: 1, seed: 1, mix: { scan: 2, tcp: -1 } })]).toThrow(/mix\.tcp \(-1\).*mix\.scan \(2\)|mix\.scan \(2\).*mix\.tcp \(-1\)/);
  });
});

describe('benchmark data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'themis-benchdata-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves every generated remote address to a remote ASN, and lists the block-list hosts', async () => {
    await buildBenchData(dir, { prefixLength: 12, blocklist: BLOCKLIST, intelEvents: 10 });
    const asn = MmdbReader.open(join(dir, 'GeoIPASNum.dat'));
    const city = MmdbReader.open(join(dir, 'GeoLite2-City.mmdb'));
    const listed = MmdbReader.open(join(dir, 'emerging_threats_ips.dat'));
    const asnOf = (text: string): number => asn.lookup<{ autonomous_system_number: number }>(parseIp(text)!)?.autonomous_system_number ?? 0;
    // Sample universe kept: ours, a sample remote, and the address that is in no database.
    expect(asnOf('192.0.2.10')).toBe(64500);
    expect(asnOf('203.0.113.50')).toBe(64502);
    expect(asnOf('198.18.0.1')).toBe(0);
    expect(listed.lookupOffset(parseIp('198.51.100.66')!)).not.toBe(-1);
    expect(listed.lookupOffset(parseIp('192.0.2.10')!)).toBe(-1);

    const { lines } = generate({ count: 20_000, seed: 5, mix: { badLine: 0 } });
    let remoteSides = 0;
    let withCountry = 0;
    const unresolved: string[] = [];
    const wrongSide: string[] = [];
    for (const f of parseAll(lines).flows) {
      for (const ip of [f.srcIp, f.dstIp]) {
        const as = asnOf(ip.text);
        // Every address resolves; only our own side is AS64500.
        if (as === 0) unresolved.push(ip.text);
        if ((as === 64500) !== isLocal(ip.text)) wrongSide.push(ip.text);
        if (isLocal(ip.text)) continue;
        remoteSides++;
        if (city.lookup<{ country?: { iso_code?: string } }>(ip)?.country?.iso_code !== undefined) withCountry++;
      }
    }
    expect(unresolved).toEqual([]);
    expect(wrongSide).toEqual([]);
    expect(withCountry / remoteSides).toBeGreaterThan(0.9);
    expect(remoteV4Blocks().length).toBeGreaterThan(3_000);
    const intel = readFileSync(join(dir, 'intelmq-events.jsonl'), 'utf8').trim().split('\n');
    expect(intel).toHaveLength(5 + 10);
    for (const file of ['asn.txt', 'valid_protocols.txt', 'known_host_services.csv', 'suspect_countries.csv', 'active_hosts.dat', 'ndpi_good.dat', 'alien_vault_reputation.dat']) {
      expect(() => readFileSync(join(dir, file)), file).not.toThrow();
    }
  });
});
