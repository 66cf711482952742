/**
 * The last step of make-lab-traffic.sh: converts nfdump's JSON export of the lab with the ingest's
 * own converter (ids from 1, in nfdump's order) and labels each flow from the tools' logs.
 *
 *   node --import tsx scripts/lab/label-lab-flows.ts --nfdump-json <file> --out-dir <dir>
 *     --sshd-log <file> --curl-log <file> --nmap <label>=<nmap -oX file> [--nmap ...]
 *
 * Writes <dir>/flows.jsonl (the Themis input schema, one flow a line) and <dir>/labels.json
 * (activities from the logs, counts per label, then one line per flow: id, label, source_ip, tool,
 * activity index). Exits 1 on any record nfdump printed that does not convert.
 */
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InputFlowRecord } from '../../spouts/ingest/nfdump-json.js';
import { nfdumpJsonSource } from '../../spouts/ingest/sources.js';
import { LAB_LABELS, labelFlows, parseCurlLog, parseNmapXml, parseSshdLog, type Activity, type ScanLabel } from './lab-labels.js';

const SERVER_IP = '10.77.0.10';
const SCAN_LABELS: readonly string[] = ['port-scan', 'address-scan', 'slow-scan'];

const { values } = parseArgs({
  options: {
    'nfdump-json': { type: 'string' },
    'out-dir': { type: 'string' },
    'sshd-log': { type: 'string' },
    'curl-log': { type: 'string' },
    nmap: { type: 'string', multiple: true },
  },
});
const required = ['nfdump-json', 'out-dir', 'sshd-log', 'curl-log', 'nmap'] as const;
const missing = required.filter((key) => values[key] === undefined);
if (missing.length > 0) {
  console.error(`label-lab-flows: missing ${missing.map((key) => `--${key}`).join(', ')}`);
  process.exit(2);
}

const flows: InputFlowRecord[] = [];
for await (const item of nfdumpJsonSource(createReadStream(values['nfdump-json']!), 'nfdump', { next: 1 }, { utcOffsetMinutes: 0 })) {
  if (item.kind !== 'line') {
    console.error(`label-lab-flows: ${JSON.stringify(item)}`);
    process.exit(1);
  }
  flows.push(JSON.parse(item.text) as InputFlowRecord);
}

const activities: Activity[] = [];
for (const spec of values.nmap!) {
  const [label, file] = spec.split('=', 2) as [string, string | undefined];
  if (!SCAN_LABELS.includes(label) || file === undefined) {
    console.error(`label-lab-flows: --nmap ${spec} must be <${SCAN_LABELS.join('|')}>=<file>`);
    process.exit(2);
  }
  activities.push(parseNmapXml(readFileSync(file, 'utf8'), label as ScanLabel));
}
activities.push(...parseSshdLog(readFileSync(values['sshd-log']!, 'utf8'), SERVER_IP));
activities.push(...parseCurlLog(readFileSync(values['curl-log']!, 'utf8')));

const labels = labelFlows(flows, activities);
const counts = Object.fromEntries([...LAB_LABELS, 'unlabelled'].map((label) => [label, labels.filter((l) => l.label === label).length]));
const activityCounts = Object.fromEntries(LAB_LABELS.map((label) => [label, activities.filter((a) => a.label === label).length]));

const outDir = values['out-dir']!;
writeFileSync(join(outDir, 'flows.jsonl'), flows.map((flow) => JSON.stringify(flow)).join('\n') + '\n');
// One flow a line, so a diff of a remade fixture stays readable.
const flowLines = labels.map((l) =>
  `    ${JSON.stringify({ id: l.id, label: l.label, source_ip: l.sourceIp, tool: l.tool, activity: l.activity })}`,
);
const activityLines = activities.map((activity) => `    ${JSON.stringify(activity)}`);
writeFileSync(
  join(outDir, 'labels.json'),
  '{\n' +
    `  "flow_counts": ${JSON.stringify(counts)},\n` +
    `  "activity_counts": ${JSON.stringify(activityCounts)},\n` +
    `  "activities": [\n${activityLines.join(',\n')}\n  ],\n` +
    `  "flows": [\n${flowLines.join(',\n')}\n  ]\n}\n`,
);
console.log(`label-lab-flows: ${flows.length} flows, ${activities.length} activities; flows per label ${JSON.stringify(counts)}`);
