import type { EvidenceRule } from './evidence/evidence-rule.js';
import type { DiscardRule } from './rules/decide-discard.js';
import type { HttpBruteForceRule, HttpSignature } from './rules/score-http-brute-force.js';
import type { PortRule } from './rules/score-insecure-ports.js';
import type { IntelMqRule } from './rules/score-intelmq.js';
import type { IpListRule } from './rules/score-ip-list.js';
import type { PossibleScanRule } from './rules/score-possible-scan.js';
import type { ServiceRule } from './rules/score-service.js';
import type { SshBruteForceRule } from './rules/score-ssh-brute-force.js';
import type { TagSpec } from './rules/tags.js';

/**
 * Every tunable of the Themis topology, with the original's final-topology values as defaults
 * (reference §2-§3.2, §5, §10, §17). A user's JSON is deep-merged over the defaults and checked
 * once at the edge (bin/); inner code trusts the frozen result. Objects merge key by key; arrays
 * and scalars replace the default. Each rule's section is passed unchanged to its pure rule
 * function in bolts/rules, so a score lives at `rules.<rule>.score`.
 */
export interface ThemisConfig {
  readonly rules: {
    readonly darkIp: TagSpec;
    readonly emergingThreats: IpListRule;
    readonly alienVault: IpListRule;
    readonly ndpiGood: IpListRule;
    readonly suspectCountry: TagSpec;
    readonly intelMq: IntelMqRule;
    readonly possibleScan: PossibleScanRule;
    readonly sshBruteForce: SshBruteForceRule;
    readonly httpBruteForce: HttpBruteForceRule;
    readonly tcpHostedService: ServiceRule;
    readonly tcpRemoteService: ServiceRule;
    readonly udpHostedService: ServiceRule;
    readonly udpRemoteService: ServiceRule;
    readonly insecureTcpPorts: PortRule;
    readonly unknownTcpPorts: PortRule;
    readonly insecureUdpPorts: PortRule;
    readonly unknownUdpPorts: PortRule;
  };
  readonly discard: DiscardRule;
  /** The evidence stage (bolts/evidence): per-source detectors over event-time windows, and alerts. */
  readonly evidence: EvidenceRule;
  readonly scanCandidates: {
    /** A TCP flow whose scanner sent at most this many packets is a scan candidate (§5.19). */
    readonly maxPackets: number;
  };
  readonly windows: {
    /** How long match-flows holds one direction waiting for its reverse (original: 120 s local map). */
    readonly matchWindowMs: number;
    /** How long join-streams waits for a flow's other branch copy; at most the message timeout. */
    readonly joinWindowMs: number;
    /** Root timeout after which the spout replays (original: 60 s). */
    readonly messageTimeoutSecs: number;
    /** Tick period of the matcher and timers (original: 10 s). */
    readonly tickSecs: number;
    /**
     * Flows one match-flows task holds at most; when full, the oldest is released unmatched
     * (the original's 50,000 per task, which evicted silently, §15 item 15). It bounds the held
     * work and the heap: measured, 200,000 cost 20% more CPU per flow in GC than 50,000.
     */
    readonly matchMaxHeld: number;
  };
  readonly files: {
    /** Directory the file names below are relative to (the original hard-coded it, §15 item 28). */
    readonly dataDir: string;
    readonly asns: string;
    readonly validProtocols: string;
    readonly honeypotPorts: string;
    readonly activeHosts: string;
    readonly emergingThreats: string;
    readonly alienVault: string;
    readonly ndpiGood: string;
    readonly tcpInsecurePorts: string;
    readonly udpInsecurePorts: string;
    readonly tcpKnownPorts: string;
    readonly udpKnownPorts: string;
    readonly knownHostServices: string;
    readonly suspectCountries: string;
    readonly geoCity: string;
    /** ASN database, under the original's file name but in MaxMind DB GeoLite2-ASN layout (§15 item 38). */
    readonly geoAsn: string;
  };
  readonly topics: {
    readonly input: string;
    readonly ignored: string;
    readonly scored: string;
    readonly scoredDetail: string;
    readonly scanCandidates: string;
    /** Alerts of the evidence stage; with file output they go to `alerts.jsonl`. */
    readonly alerts: string;
  };
  readonly kafka: {
    /**
     * How often the Kafka spout commits what is complete, with the record of what is not
     * (spouts/kafka/commit-record.ts): a crash replays at most the flows completed since the last
     * commit, besides those in flight and held.
     */
    readonly commitIntervalMs: number;
    /** How long the group waits for a member that stopped answering (a killed process) before its partitions move. */
    readonly sessionTimeoutMs: number;
  };
  readonly redis: {
    readonly intelDb: number;
    /**
     * A namespace put before the `intel-mq-<ip>` hashes the IntelMQ bot writes (§10-11); empty,
     * the default, reads exactly the original bot's keys. `themis-intel load --key-prefix` takes
     * the same value.
     */
    readonly intelKeyPrefix: string;
  };
  readonly timers: {
    /** Suffix of the timer keys, the original's 5th CLI argument (`first-tuple-<name>`). */
    readonly instanceName: string;
    readonly input: string;
    readonly discard: string;
    readonly output: string;
  };
  readonly metrics: {
    /** Metric names are `<prefix>_<thing>_<unit>`. */
    readonly prefix: string;
  };
}

// ---------------------------------------------------------------------------------------------
// Schema: one leaf per tunable, holding its default and its rule.

/** A leaf's check returns the rule the value breaks ("must be an integer >= 0"), or null. */
class Leaf<T> {
  constructor(
    readonly defaultValue: T,
    readonly check: (value: unknown) => string | null,
  ) {}
}

type Schema<T> = [T] extends [string | number | boolean | null | readonly unknown[]]
  ? Leaf<T>
  : { readonly [K in keyof T]-?: Schema<T[K]> };

function int(defaultValue: number, min: number, max = Number.MAX_SAFE_INTEGER): Leaf<number> {
  const rule = max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer ${min}-${max}`;
  return new Leaf(defaultValue, (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? null : rule,
  );
}

function fraction(defaultValue: number): Leaf<number> {
  return new Leaf(defaultValue, (v) => (typeof v === 'number' && v > 0 && v < 1 ? null : 'must be a number between 0 and 1, exclusive'));
}

const score = (defaultValue: number): Leaf<number> => int(defaultValue, 0);
const packets = (defaultValue: number): Leaf<number> => int(defaultValue, 0);
const port = (defaultValue: number): Leaf<number> => int(defaultValue, 0, 65535);

function nullableScore(defaultValue: number | null): Leaf<number | null> {
  return new Leaf<number | null>(defaultValue, (v) =>
    v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 0) ? null : 'must be an integer >= 0, or null to disable',
  );
}

function text(defaultValue: string, pattern: RegExp, rule: string): Leaf<string> {
  return new Leaf(defaultValue, (v) => (typeof v === 'string' && pattern.test(v) ? null : rule));
}

const NON_EMPTY = /\S/;
const TAG_PART = /^[A-Za-z0-9_]+$/;
const TAG_RULE = 'must be letters, digits or _ (the tag renders as CATEGORY-CODE)';
// Kafka's legal topic names.
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const METRIC_PREFIX = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const tagPart = (defaultValue: string): Leaf<string> => text(defaultValue, TAG_PART, TAG_RULE);
const fileName = (defaultValue: string): Leaf<string> => text(defaultValue, NON_EMPTY, 'must be a non-empty string');
const topic = (defaultValue: string): Leaf<string> =>
  text(defaultValue, TOPIC, 'must be a Kafka topic name (1-249 of letters, digits, ".", "_", "-")');

function bool(defaultValue: boolean): Leaf<boolean> {
  return new Leaf(defaultValue, (v) => (typeof v === 'boolean' ? null : 'must be true or false'));
}

/** A value the code depends on (which protocol a TCP rule scores); listed so the config shows it. */
function fixed<T extends string | number>(value: T): Leaf<T> {
  return new Leaf(value, (v) => (v === value ? null : `is fixed at ${JSON.stringify(value)} and cannot be changed`));
}

function intList(defaultValue: readonly number[], min: number, max: number): Leaf<readonly number[]> {
  const rule = `must be an array of integers ${min}-${max}`;
  return new Leaf(defaultValue, (v) =>
    Array.isArray(v) && v.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) ? null : rule,
  );
}

const TCP_FLAGS = /^[U.][A.][P.][R.][S.][F.]$/;

function flagList(defaultValue: readonly string[]): Leaf<readonly string[]> {
  return new Leaf(defaultValue, (v) =>
    Array.isArray(v) && v.every((s) => typeof s === 'string' && TCP_FLAGS.test(s))
      ? null
      : 'must be an array of nfdump UAPRSF flag strings like "....S."',
  );
}

const tag = (category: string, code: string, defaultScore: number): Schema<TagSpec> => ({
  category: tagPart(category),
  code: tagPart(code),
  score: score(defaultScore),
});

const ipList = (code: string, defaultScore: number, isBad: boolean): Schema<IpListRule> => ({
  ...tag('IP_LIST', code, defaultScore),
  isBad: bool(isBad),
});

const service = (
  kind: ServiceRule['kind'],
  negativeScore: number | null,
  minPackets: number,
): Schema<ServiceRule> => ({
  ...tag(kind.endsWith('HOSTED') ? 'HOSTED_SERVICES' : 'REMOTE_SERVICES', kind.slice(0, 3), 100),
  kind: fixed(kind),
  negativeScore: nullableScore(negativeScore),
  minPackets: packets(minPackets),
});

const portRule = (code: string, defaultScore: number, protocol: number): Schema<PortRule> => ({
  ...tag('PORT_LIST', code, defaultScore),
  isBad: bool(true),
  protocol: fixed(protocol),
  minPackets: packets(3),
});

const httpSignature = (
  defaultPort: number,
  [minPackets, maxPackets]: [number, number],
  [minBytes, maxBytes]: [number, number],
): Schema<HttpSignature> => ({
  port: port(defaultPort),
  minPackets: packets(minPackets),
  maxPackets: packets(maxPackets),
  minBytes: packets(minBytes),
  maxBytes: packets(maxBytes),
});

const TCP = 6;
const UDP = 17;

/** Defaults: reference §3.2 component table and §17 glossary unless a comment says otherwise. */
const SCHEMA: Schema<ThemisConfig> = {
  rules: {
    darkIp: tag('SUSPICIOUS_TRAFFIC', 'DARK_IP', 40),
    emergingThreats: ipList('EMERGING_THREATS', 50, true),
    alienVault: ipList('ALIENVAULT', 50, true),
    ndpiGood: ipList('NDPI_GOOD', 100, false),
    suspectCountry: tag('COUNTRY', 'SUSPECT', 80),
    intelMq: { category: tagPart('INTELMQ'), score: score(70) },
    possibleScan: {
      ...tag('POSSIBLE_SCAN', 'SYN_ONLY', 60),
      // The original's `.P...F` cannot occur; the Xmas probe is `U.P..F` (§15 item 2).
      flagPatterns: flagList(['....S.', '.....F', '......', 'U.P..F']),
    },
    sshBruteForce: {
      ...tag('BRUTE_FORCE', 'SSH', 90),
      port: port(22),
      minPackets: packets(11),
      maxPackets: packets(51),
    },
    httpBruteForce: {
      ...tag('BRUTE_FORCE', 'HTTP', 90),
      http: httpSignature(80, [5, 12], [363, 1130]),
      https: httpSignature(443, [7, 17], [789, 2885]),
    },
    tcpHostedService: service('TCP_HOSTED', 50, 30),
    tcpRemoteService: service('TCP_REMOTE', null, 5),
    udpHostedService: service('UDP_HOSTED', 50, 1),
    udpRemoteService: service('UDP_REMOTE', null, 1),
    insecureTcpPorts: portRule('INSECURE_TCP_TRAFFIC', 50, TCP),
    unknownTcpPorts: portRule('UNKNOWN_TCP_TRAFFIC', 70, TCP),
    insecureUdpPorts: portRule('INSECURE_UDP_TRAFFIC', 50, UDP),
    unknownUdpPorts: portRule('UNKNOWN_UDP_TRAFFIC', 70, UDP),
  },
  // The original dropped any protocol; the thesis intent was TCP 23/2323 (§15 item 7).
  discard: { honeypotProtocols: intList([TCP], 0, 255) },
  evidence: {
    enabled: bool(false),
    probeMaxPackets: packets(3),
    // Past match-flows' 120 s window: a flow released unmatched reaches the stage that long after its time.
    allowedLatenessSecs: int(180, 0),
    holdSecs: int(300, 0),
    maxHoldMs: int(120_000, 1),
    maxHeld: int(20_000, 1),
    maxSources: int(50_000, 1),
    maxEntriesPerSource: int(4_096, 1),
    maxEntries: int(250_000, 1),
    maxListed: int(20, 1),
    // Zeek policy/misc/scan.zeek: port_scan_threshold 15, addr_scan_threshold 25, scan interval 5 min.
    portScan: { windowSecs: int(300, 1), minPorts: int(15, 1), score: score(100) },
    addressScan: { windowSecs: int(300, 1), minTargets: int(25, 1), score: score(100) },
    // Jung, Paxson, Berger, Balakrishnan 2004, section 4: theta0 0.8, theta1 0.2, P_D 0.99, P_F 0.01.
    randomWalk: {
      windowSecs: int(3_600, 1),
      theta0: fraction(0.8),
      theta1: fraction(0.2),
      detectionProbability: fraction(0.99),
      falsePositiveProbability: fraction(0.01),
      score: score(100),
    },
    // Zeek policy/protocols/ssh/detect-bruteforcing.zeek: password_guesses_limit 30, guessing_timeout 30 min.
    // SSHCure's brute-force phase: 11-51 packets per flow.
    passwordGuessing: {
      ports: intList([21, 22, 23, 80, 110, 143, 443, 465, 587, 993, 995, 3389, 8080, 8443], 0, 65535),
      windowSecs: int(1_800, 1),
      minAttempts: int(30, 1),
      maxPackets: packets(60),
      packetTolerance: packets(4),
      score: score(120),
    },
    compromise: { factor: int(3, 1), minPackets: packets(20), score: score(150) },
  },
  scanCandidates: { maxPackets: packets(2) },
  windows: {
    matchWindowMs: int(120_000, 1),
    // The original's join held copies 240 s, past the 60 s message timeout, so late copies only
    // caused replays (§15 item 20); the join window is capped at the message timeout.
    joinWindowMs: int(60_000, 1),
    messageTimeoutSecs: int(60, 1),
    tickSecs: int(10, 1),
    matchMaxHeld: int(50_000, 1),
  },
  files: {
    dataDir: fileName('data_sources'),
    asns: fileName('asn.txt'),
    validProtocols: fileName('valid_protocols.txt'),
    honeypotPorts: fileName('ignore_honeyport_ports.txt'),
    activeHosts: fileName('active_hosts.dat'),
    emergingThreats: fileName('emerging_threats_ips.dat'),
    alienVault: fileName('alien_vault_reputation.dat'),
    ndpiGood: fileName('ndpi_good.dat'),
    tcpInsecurePorts: fileName('tcp_insecure_ports.txt'),
    udpInsecurePorts: fileName('udp_insecure_ports.txt'),
    tcpKnownPorts: fileName('tcp_known_ports.txt'),
    udpKnownPorts: fileName('udp_known_ports.txt'),
    knownHostServices: fileName('known_host_services.csv'),
    suspectCountries: fileName('suspect_countries.csv'),
    geoCity: fileName('GeoLite2-City.mmdb'),
    geoAsn: fileName('GeoIPASNum.dat'),
  },
  // README names, not the deployed `*-timings` ones that never met the producer (§15 item 32).
  topics: {
    input: topic('netflow-json'),
    ignored: topic('ignored-flows'),
    scored: topic('scored-flows'),
    scoredDetail: topic('scored-flows-detail'),
    scanCandidates: topic('scan-candidates'),
    alerts: topic('themis-alerts'),
  },
  kafka: {
    commitIntervalMs: int(500, 10),
    // kafkajs' default; the broker refuses less than its group.min.session.timeout.ms (6 s).
    sessionTimeoutMs: int(30_000, 6_000),
  },
  redis: {
    intelDb: int(14, 0),
    intelKeyPrefix: text('', /^\S*$/, 'must be a string without spaces'),
  },
  timers: {
    instanceName: new Leaf('', (v) => (typeof v === 'string' ? null : 'must be a string')),
    input: fileName('first-tuple'),
    discard: fileName('discard-tuple'),
    output: fileName('last-tuple'),
  },
  metrics: {
    prefix: text('themis', METRIC_PREFIX, 'must match [a-zA-Z_][a-zA-Z0-9_]* (a Prometheus name)'),
  },
};

// ---------------------------------------------------------------------------------------------

type Node = Leaf<unknown> | { readonly [key: string]: Node };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 60 ? `${shown.slice(0, 60)}...` : shown;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function suggestion(key: string, known: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = 4;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best === null ? '' : ` (did you mean ${best}?)`;
}

function materialise(node: Node): unknown {
  if (node instanceof Leaf) {
    return Array.isArray(node.defaultValue) ? [...node.defaultValue] : node.defaultValue;
  }
  return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, materialise(child)]));
}

function merge(node: Node, user: unknown, path: string, errors: string[]): unknown {
  if (node instanceof Leaf) {
    const problem = node.check(user);
    if (problem !== null) errors.push(`${path} (${show(user)}) ${problem}`);
    return Array.isArray(user) ? [...user] : user;
  }
  if (!isPlainObject(user)) {
    errors.push(`${path === '' ? 'config' : path} (${show(user)}) must be an object`);
    return materialise(node);
  }
  const known = Object.keys(node);
  for (const key of Object.keys(user)) {
    if (!(key in node)) errors.push(`unknown key ${path === '' ? '' : `${path}.`}${key}${suggestion(key, known)}`);
  }
  const out: Record<string, unknown> = {};
  for (const key of known) {
    const child = node[key]!;
    const value = user[key];
    out[key] = value === undefined ? materialise(child) : merge(child, value, path === '' ? key : `${path}.${key}`, errors);
  }
  return out;
}

const isInt = (value: unknown): value is number => Number.isInteger(value);

/** Checks between keys; a pair is compared only when both keys are valid on their own. */
function crossCheck(config: ThemisConfig, errors: string[]): void {
  const range = (path: string, min: unknown, max: unknown, minKey: string, maxKey: string): void => {
    if (isInt(min) && isInt(max) && min > max) errors.push(`${path}.${minKey} (${min}) must be <= ${path}.${maxKey} (${max})`);
  };
  const { sshBruteForce, httpBruteForce } = config.rules;
  range('rules.sshBruteForce', sshBruteForce.minPackets, sshBruteForce.maxPackets, 'minPackets', 'maxPackets');
  for (const name of ['http', 'https'] as const) {
    const signature = httpBruteForce[name];
    const path = `rules.httpBruteForce.${name}`;
    range(path, signature.minPackets, signature.maxPackets, 'minPackets', 'maxPackets');
    range(path, signature.minBytes, signature.maxBytes, 'minBytes', 'maxBytes');
  }
  const { joinWindowMs, messageTimeoutSecs, tickSecs } = config.windows;
  const isTimeoutValid = isInt(messageTimeoutSecs) && messageTimeoutSecs >= 1;
  if (isTimeoutValid && isInt(joinWindowMs) && joinWindowMs > messageTimeoutSecs * 1000) {
    errors.push(
      `windows.joinWindowMs (${joinWindowMs}) must be <= windows.messageTimeoutSecs × 1000 (${messageTimeoutSecs * 1000}): ` +
        'a copy held longer is replayed anyway',
    );
  }
  if (isTimeoutValid && isInt(tickSecs) && messageTimeoutSecs <= tickSecs) {
    errors.push(`windows.messageTimeoutSecs (${messageTimeoutSecs}) must exceed windows.tickSecs (${tickSecs})`);
  }
  const { theta0, theta1, detectionProbability, falsePositiveProbability } = config.evidence.randomWalk;
  const isFraction = (v: unknown): v is number => typeof v === 'number' && v > 0 && v < 1;
  if (isFraction(theta0) && isFraction(theta1) && theta1 >= theta0) {
    errors.push(`evidence.randomWalk.theta1 (${theta1}) must be < evidence.randomWalk.theta0 (${theta0}): a scanner's first contacts succeed less often`);
  }
  if (isFraction(detectionProbability) && isFraction(falsePositiveProbability) && falsePositiveProbability >= detectionProbability) {
    errors.push(
      `evidence.randomWalk.falsePositiveProbability (${falsePositiveProbability}) must be < evidence.randomWalk.detectionProbability (${detectionProbability})`,
    );
  }
  const seen = new Map<string, string>();
  for (const [key, name] of Object.entries(config.topics)) {
    if (typeof name !== 'string') continue;
    const first = seen.get(name);
    if (first !== undefined) errors.push(`topics.${key} (${show(name)}) must differ from topics.${first}`);
    else seen.set(name, key);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function defaultConfig(): ThemisConfig {
  return deepFreeze(materialise(SCHEMA as unknown as Node) as ThemisConfig);
}

/**
 * Deep-merges `partial` (parsed user JSON; undefined means "all defaults") over the defaults and
 * reports every problem at once, each naming key, value and rule.
 */
export function validateConfig(partial: unknown): { config: ThemisConfig } | { errors: string[] } {
  const errors: string[] = [];
  const merged = merge(SCHEMA as unknown as Node, partial === undefined ? {} : partial, '', errors) as ThemisConfig;
  crossCheck(merged, errors);
  return errors.length > 0 ? { errors } : { config: deepFreeze(merged) };
}
