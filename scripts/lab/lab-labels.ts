/**
 * Labels the lab's flows from the tools' own logs (issue 14, "A lab of real traffic"). Pure: the
 * caller reads the files. Each activity of the lab is one of:
 *
 *   port-scan, address-scan, slow-scan  an nmap run (-oX): its source is the `-S` address in the
 *       run's args, its targets the hosts it reports up, its ports the `services` of <scaninfo>,
 *       its time from <nmaprun start> to <finished time>. nmap's XML lists closed ports only as a
 *       count, so a flow is the scan's when it joins the source to a target on a scanned port
 *       within that time (either direction).
 *   password-guessing, good-login  one SSH connection in sshd's VERBOSE log, by its client address
 *       and port: `Accepted password` makes it a good login, `Failed password` without one a guess.
 *   benign-web  one curl transfer, by the 5-tuple curl printed with -w.
 *
 * A flow no activity claims is `unlabelled`; one that two claim is an error (the lab gives every
 * activity its own source address, so it would mean a parsing mistake).
 */
import type { InputFlowRecord } from '../../spouts/ingest/nfdump-json.js';

export const LAB_LABELS = ['port-scan', 'address-scan', 'slow-scan', 'password-guessing', 'good-login', 'benign-web'] as const;
export type LabLabel = (typeof LAB_LABELS)[number];
export type ScanLabel = Extract<LabLabel, 'port-scan' | 'address-scan' | 'slow-scan'>;

const TCP = 6;
const SSH_PORT = 22;
/** Flow times are whole seconds (truncated); nmap's are too: one second of slack either side. */
const SCAN_SLACK_SECS = 1;

export interface ScanActivity {
  readonly label: ScanLabel;
  readonly tool: 'nmap';
  readonly sourceIp: string;
  readonly targetIps: readonly string[];
  readonly targetPorts: readonly number[];
  readonly startSecs: number;
  readonly endSecs: number;
  readonly args: string;
}

export interface ConnectionActivity {
  readonly label: Extract<LabLabel, 'password-guessing' | 'good-login' | 'benign-web'>;
  readonly tool: 'sshd+sshpass' | 'curl';
  readonly sourceIp: string;
  readonly sourcePort: number;
  readonly targetIp: string;
  readonly targetPort: number;
  /** The log line that says what it was. */
  readonly evidence: string;
}

export type Activity = ScanActivity | ConnectionActivity;

export interface FlowLabel {
  readonly id: number;
  readonly label: LabLabel | 'unlabelled';
  /** The address that started the activity (the scanner, the SSH or HTTP client), whichever way the flow goes. */
  readonly sourceIp: string | null;
  readonly tool: string | null;
  /** Index into the activities. */
  readonly activity: number | null;
}

/** The scan in one nmap -oX file; throws when the file lacks what a label needs. */
export function parseNmapXml(xml: string, label: ScanLabel): ScanActivity {
  const args = attribute(xml, 'nmaprun', 'args');
  const source = /\s-S\s+(\S+)/.exec(args);
  if (source === null) throw new Error(`nmap args name no -S source address: ${args}`);
  const services = attribute(xml, 'scaninfo', 'services');
  const targetIps = [...xml.matchAll(/<host\b[\s\S]*?<\/host>/g)]
    .filter((host) => /<status state="up"/.test(host[0]))
    .map((host) => /<address addr="([^"]+)" addrtype="ipv4"/.exec(host[0])?.[1])
    .filter((ip): ip is string => ip !== undefined);
  if (targetIps.length === 0) throw new Error(`nmap reports no host up (${args})`);
  return {
    label,
    tool: 'nmap',
    sourceIp: source[1]!,
    targetIps,
    targetPorts: expandPorts(services),
    startSecs: Number(attribute(xml, 'nmaprun', 'start')),
    endSecs: Number(attribute(xml, 'finished', 'time')),
    args,
  };
}

function attribute(xml: string, element: string, name: string): string {
  const tag = new RegExp(`<${element}\\b[^>]*>`).exec(xml);
  const value = tag === null ? null : new RegExp(`\\s${name}="([^"]*)"`).exec(tag[0]);
  if (value === null) throw new Error(`nmap XML has no <${element} ${name}="...">`);
  return value[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

/** nmap's `services` list, e.g. `21-23,80`. */
export function expandPorts(services: string): number[] {
  const ports: number[] = [];
  for (const part of services.split(',')) {
    const [low, high] = part.split('-').map(Number) as [number, number | undefined];
    for (let port = low; port <= (high ?? low); port++) ports.push(port);
  }
  return ports;
}

/**
 * SSH connections in sshd's log (-E, LogLevel VERBOSE), by client address and port: a connection
 * with an `Accepted password` line is a good login, one with only `Failed password` lines a guess.
 */
export function parseSshdLog(log: string, serverIp: string): ConnectionActivity[] {
  const outcomes = new Map<string, { accepted?: string; failed?: string; ip: string; port: number }>();
  for (const line of log.split('\n')) {
    const match = /(Accepted|Failed) password for \S+ from (\S+) port (\d+)/.exec(line);
    if (match === null) continue;
    const [, outcome, ip, port] = match as unknown as [string, string, string, string];
    const key = `${ip}:${port}`;
    const entry = outcomes.get(key) ?? { ip, port: Number(port) };
    if (outcome === 'Accepted') entry.accepted = line.trim();
    else entry.failed ??= line.trim();
    outcomes.set(key, entry);
  }
  return [...outcomes.values()].map((entry) => ({
    label: entry.accepted !== undefined ? 'good-login' : 'password-guessing',
    tool: 'sshd+sshpass',
    sourceIp: entry.ip,
    sourcePort: entry.port,
    targetIp: serverIp,
    targetPort: SSH_PORT,
    evidence: entry.accepted ?? entry.failed!,
  }));
}

/** curl transfers from lines of `-w '%{local_ip} %{local_port} %{remote_ip} %{remote_port} %{http_code} %{time_total}'`. */
export function parseCurlLog(log: string): ConnectionActivity[] {
  return log
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const [localIp, localPort, remoteIp, remotePort, httpCode] = line.trim().split(/\s+/);
      if (httpCode !== '200') throw new Error(`curl did not get 200: ${line}`);
      return {
        label: 'benign-web',
        tool: 'curl',
        sourceIp: localIp!,
        sourcePort: Number(localPort),
        targetIp: remoteIp!,
        targetPort: Number(remotePort),
        evidence: line.trim(),
      };
    });
}

/** One label per flow; throws when two activities claim the same flow. */
export function labelFlows(flows: readonly InputFlowRecord[], activities: readonly Activity[]): FlowLabel[] {
  const byTuple = new Map<string, number>();
  activities.forEach((activity, index) => {
    if (!('sourcePort' in activity)) return;
    const key = tupleKey(activity.sourceIp, activity.sourcePort, activity.targetIp, activity.targetPort);
    if (byTuple.has(key)) throw new Error(`two logged connections share the 5-tuple ${key}`);
    byTuple.set(key, index);
  });
  return flows.map((flow) => {
    const claims: number[] = [];
    const exact = flow.protocol === TCP
      ? (byTuple.get(tupleKey(flow.src_ip, flow.src_port, flow.dst_ip, flow.dst_port)) ??
        byTuple.get(tupleKey(flow.dst_ip, flow.dst_port, flow.src_ip, flow.src_port)))
      : undefined;
    if (exact !== undefined) claims.push(exact);
    activities.forEach((activity, index) => {
      if (activity.tool === 'nmap' && isScanFlow(flow, activity)) claims.push(index);
    });
    if (claims.length > 1) throw new Error(`flow ${flow.id} is claimed by activities ${claims.join(', ')}`);
    const index = claims[0];
    if (index === undefined) return { id: flow.id, label: 'unlabelled', sourceIp: null, tool: null, activity: null };
    const activity = activities[index]!;
    return { id: flow.id, label: activity.label, sourceIp: activity.sourceIp, tool: activity.tool, activity: index };
  });
}

function tupleKey(srcIp: string, srcPort: number, dstIp: string, dstPort: number): string {
  return `${srcIp}:${srcPort}>${dstIp}:${dstPort}`;
}

function isScanFlow(flow: InputFlowRecord, scan: ScanActivity): boolean {
  if (flow.protocol !== TCP) return false;
  if (flow.start_timestamp_unix_secs < scan.startSecs - SCAN_SLACK_SECS || flow.end_timestamp_unix_secs > scan.endSecs + SCAN_SLACK_SECS) {
    return false;
  }
  const isProbe = flow.src_ip === scan.sourceIp && scan.targetIps.includes(flow.dst_ip) && scan.targetPorts.includes(flow.dst_port);
  const isAnswer = flow.dst_ip === scan.sourceIp && scan.targetIps.includes(flow.src_ip) && scan.targetPorts.includes(flow.src_port);
  return isProbe || isAnswer;
}
