/**
 * The baseline of the Themis benchmark: the same per-flow work as the topology — parse, ASN,
 * discard, match, geo, every scoring rule of the flow's branches, merge, format every output
 * record and write it to a file — called in one plain loop on one thread, with no engine at all.
 * The topology's rate on N threads is compared with N times this.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../../runtime/index.js';
import { Resources } from '../../bolts/components/resources.js';
import { makeScorer, type Scorer } from '../../bolts/components/scorers.js';
import type { ThemisArgs } from '../../bolts/components/themis-args.js';
import { enrichAsn } from '../../bolts/enrich/enrich-asn.js';
import { enrichGeo } from '../../bolts/enrich/enrich-geo.js';
import type { Flow, Tag } from '../../bolts/flow.js';
import { MatchTable } from '../../bolts/match/match-table.js';
import { FileSink } from '../../bolts/output/file-sink.js';
import { headRuns, ignoredFlowRecord, scanCandidateRecords, scoredFlowDetailRecords, scoredFlowRecord, type KafkaRecord } from '../../bolts/output/format.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';
import { decideDiscard } from '../../bolts/rules/decide-discard.js';
import { addTagsTo } from '../../bolts/rules/tags.js';
import { ALL_CHAIN, TCP_CHAIN, UDP_CHAIN } from '../../topology/themis-topology.js';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: (m, f) => console.error(m, f) };

export async function runPlainLoop(args: ThemisArgs, inputPath: string): Promise<{ flows: number; seconds: number; flowsPerSec: number }> {
  const resources = new Resources(args, quiet);
  const cfg = args.config;
  const asnDb = await resources.mmdb(cfg.files.geoAsn);
  const cityDb = await resources.mmdb(cfg.files.geoCity);
  const lists = {
    validProtocols: await resources.validProtocols(),
    localAsns: await resources.localAsns(),
    honeypotPorts: await resources.ports(cfg.files.honeypotPorts),
  };
  // IntelMQ from the embedded store is a synchronous scorer like the rest, as in the topology.
  const scorers = async (links: typeof ALL_CHAIN): Promise<Scorer[]> => Promise.all(links.map(([, s]) => makeScorer(s, cfg, resources)));
  const all = await scorers(ALL_CHAIN);
  const tcp = await scorers(TCP_CHAIN);
  const udp = await scorers(UDP_CHAIN);

  // The same sink as the topology's output bolts, fed in batches of 512 records per output.
  const sink = new FileSink(args.outputDir);
  const buffers = new Map<string, KafkaRecord[]>();
  const out = (topic: string, record: KafkaRecord) => {
    let b = buffers.get(topic);
    if (!b) buffers.set(topic, (b = []));
    b.push(record);
    if (b.length >= 512) flush(topic);
  };
  const flush = (topic: string) => {
    const b = buffers.get(topic);
    if (!b || b.length === 0) return;
    void sink.write([{ topic, records: b }]);
    buffers.set(topic, []);
  };

  const score = (flow: Flow) => {
    // A tag list per branch, as the topology's branches carry, and their union at the join.
    const allTags: Tag[] = [];
    for (const s of all) addTagsTo(allTags, s(flow));
    const branch = flow.protocol === 6 ? tcp : flow.protocol === 17 ? udp : null;
    const union: Tag[] = [];
    addTagsTo(union, allTags);
    if (branch) {
      const branchTags: Tag[] = [];
      for (const s of branch) addTagsTo(branchTags, s(flow));
      addTagsTo(union, branchTags);
    }
    flow.tags = union;
    if (flow.protocol === 6) for (const r of scanCandidateRecords(flow, cfg.scanCandidates.maxPackets)) out(cfg.topics.scanCandidates, r);
    const runs = headRuns(flow);
    out(cfg.topics.scored, scoredFlowRecord(flow, runs));
    for (const d of scoredFlowDetailRecords(flow, runs)) out(cfg.topics.scoredDetail, d);
  };
  const after = (flow: Flow) => {
    enrichGeo(flow, cityDb);
    score(flow);
  };

  const table = new MatchTable<null>({ now: Date.now, windowMs: cfg.windows.matchWindowMs, maxSize: cfg.windows.matchMaxHeld });
  const rl = createInterface({ input: createReadStream(inputPath, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  let flows = 0;
  const started = performance.now();
  for await (const line of rl) {
    if (line.length === 0) continue;
    flows++;
    const parsed = parseFlowLine(line, Date.now());
    if (!parsed.ok) {
      out(cfg.topics.ignored, ignoredFlowRecord({ reason: parsed.reason, line }));
      continue;
    }
    const flow = parsed.flow;
    enrichAsn(flow, asnDb);
    const d = decideDiscard(flow, cfg.discard, lists);
    flow.direction = d.direction;
    flow.srcIsLocal = d.srcIsLocal;
    flow.dstIsLocal = d.dstIsLocal;
    if (d.discardReason !== null) {
      out(cfg.topics.ignored, ignoredFlowRecord({ reason: d.discardReason, flow }));
      continue;
    }
    const m = table.offer(flow, null);
    if (m.kind === 'passthrough') after(flow);
    else if (m.kind === 'matched') after(m.record);
    else for (const r of m.released) after(r.flow);
  }
  for (const r of table.drain()) after(r.flow);
  for (const topic of buffers.keys()) flush(topic);
  const seconds = (performance.now() - started) / 1000;
  await sink.close();
  await resources.release();
  return { flows, seconds, flowsPerSec: Math.round(flows / seconds) };
}
