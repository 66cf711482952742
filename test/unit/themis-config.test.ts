import { describe, expect, it } from 'vitest';
import { defaultConfig, validateConfig, type ThemisConfig } from '../../bolts/themis-config.js';

function errorsOf(partial: unknown): string[] {
  const result = validateConfig(partial);
  if (!('errors' in result)) throw new Error('expected errors');
  return result.errors;
}

function configOf(partial: unknown): ThemisConfig {
  const result = validateConfig(partial);
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

describe('defaultConfig', () => {
  it('carries the final topology scores and tags of the original (§3.2, §17)', () => {
    const { rules } = defaultConfig();
    const summary = Object.fromEntries(
      Object.entries(rules).map(([name, rule]) => [name, `${rule.category}-${'code' in rule ? rule.code : '*'} ${rule.score}`]),
    );
    expect(summary).toEqual({
      darkIp: 'SUSPICIOUS_TRAFFIC-DARK_IP 40',
      emergingThreats: 'IP_LIST-EMERGING_THREATS 50',
      alienVault: 'IP_LIST-ALIENVAULT 50',
      ndpiGood: 'IP_LIST-NDPI_GOOD 100',
      suspectCountry: 'COUNTRY-SUSPECT 80',
      intelMq: 'INTELMQ-* 70',
      possibleScan: 'POSSIBLE_SCAN-SYN_ONLY 60',
      sshBruteForce: 'BRUTE_FORCE-SSH 90',
      httpBruteForce: 'BRUTE_FORCE-HTTP 90',
      tcpHostedService: 'HOSTED_SERVICES-TCP 100',
      tcpRemoteService: 'REMOTE_SERVICES-TCP 100',
      udpHostedService: 'HOSTED_SERVICES-UDP 100',
      udpRemoteService: 'REMOTE_SERVICES-UDP 100',
      insecureTcpPorts: 'PORT_LIST-INSECURE_TCP_TRAFFIC 50',
      unknownTcpPorts: 'PORT_LIST-UNKNOWN_TCP_TRAFFIC 70',
      insecureUdpPorts: 'PORT_LIST-INSECURE_UDP_TRAFFIC 50',
      unknownUdpPorts: 'PORT_LIST-UNKNOWN_UDP_TRAFFIC 70',
    });
    expect([rules.emergingThreats.isBad, rules.alienVault.isBad, rules.ndpiGood.isBad]).toEqual([true, true, false]);
  });

  it('carries the original thresholds (§5.14-§5.17, §5.19)', () => {
    const config = defaultConfig();
    const { rules } = config;
    expect(rules.sshBruteForce).toMatchObject({ port: 22, minPackets: 11, maxPackets: 51 });
    expect(rules.httpBruteForce.http).toEqual({ port: 80, minPackets: 5, maxPackets: 12, minBytes: 363, maxBytes: 1130 });
    expect(rules.httpBruteForce.https).toEqual({ port: 443, minPackets: 7, maxPackets: 17, minBytes: 789, maxBytes: 2885 });
    expect(rules.tcpHostedService).toMatchObject({ kind: 'TCP_HOSTED', negativeScore: 50, minPackets: 30 });
    expect(rules.tcpRemoteService).toMatchObject({ kind: 'TCP_REMOTE', negativeScore: null, minPackets: 5 });
    expect(rules.udpHostedService).toMatchObject({ kind: 'UDP_HOSTED', negativeScore: 50, minPackets: 1 });
    expect(rules.udpRemoteService).toMatchObject({ kind: 'UDP_REMOTE', negativeScore: null, minPackets: 1 });
    expect([rules.insecureTcpPorts, rules.unknownUdpPorts].map((r) => [r.protocol, r.minPackets])).toEqual([[6, 3], [17, 3]]);
    expect(rules.possibleScan.flagPatterns).toEqual(['....S.', '.....F', '......', 'U.P..F']);
    expect(config.scanCandidates.maxPackets).toBe(2);
    expect(config.discard.honeypotProtocols).toEqual([6]);
  });

  it('carries the windows, topics, Redis and timer names', () => {
    const config = defaultConfig();
    expect(config.windows).toEqual({ matchWindowMs: 120_000, joinWindowMs: 60_000, messageTimeoutSecs: 60, tickSecs: 10, matchMaxHeld: 50_000 });
    expect(config.topics).toEqual({
      input: 'netflow-json',
      ignored: 'ignored-flows',
      scored: 'scored-flows',
      scoredDetail: 'scored-flows-detail',
      scanCandidates: 'scan-candidates',
      alerts: 'themis-alerts',
    });
    expect(config.redis).toEqual({ intelDb: 14, intelKeyPrefix: '' });
    expect(config.kafka).toEqual({ commitIntervalMs: 500, sessionTimeoutMs: 30_000 });
    expect(config.timers).toEqual({ instanceName: '', input: 'first-tuple', discard: 'discard-tuple', output: 'last-tuple' });
    expect(config.files.asns).toBe('asn.txt');
    expect(config.files.honeypotPorts).toBe('ignore_honeyport_ports.txt');
  });

  it('is deeply frozen', () => {
    const config = defaultConfig();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.rules.httpBruteForce.http)).toBe(true);
    expect(Object.isFrozen(config.discard.honeypotProtocols)).toBe(true);
    expect(() => {
      (config.windows as { matchWindowMs: number }).matchWindowMs = 1;
    }).toThrow(TypeError);
  });
});

describe('validateConfig', () => {
  it('returns the defaults for an empty or absent user config', () => {
    expect(configOf({})).toEqual(defaultConfig());
    expect(configOf(undefined)).toEqual(defaultConfig());
  });

  it('deep-merges user values over the defaults', () => {
    const config = configOf({ rules: { darkIp: { score: 10 }, httpBruteForce: { https: { maxBytes: 3000 } } } });
    expect(config.rules.darkIp).toEqual({ category: 'SUSPICIOUS_TRAFFIC', code: 'DARK_IP', score: 10 });
    expect(config.rules.httpBruteForce.https).toMatchObject({ minBytes: 789, maxBytes: 3000 });
    expect(config.rules.httpBruteForce.http.maxBytes).toBe(1130);
    expect(config.windows.matchWindowMs).toBe(120_000);
  });

  it('replaces arrays rather than merging them', () => {
    expect(configOf({ discard: { honeypotProtocols: [6, 17] } }).discard.honeypotProtocols).toEqual([6, 17]);
    expect(configOf({ discard: { honeypotProtocols: [] } }).discard.honeypotProtocols).toEqual([]);
  });

  it('returns a frozen config that does not share arrays with the input', () => {
    const input = { discard: { honeypotProtocols: [6] } };
    const config = configOf(input);
    input.discard.honeypotProtocols.push(17);
    expect(config.discard.honeypotProtocols).toEqual([6]);
    expect(Object.isFrozen(config.rules)).toBe(true);
  });

  it('disables negative scoring with null', () => {
    expect(configOf({ rules: { tcpHostedService: { negativeScore: null } } }).rules.tcpHostedService.negativeScore).toBeNull();
  });

  it('reports every problem at once, naming key, value and rule', () => {
    expect(
      errorsOf({
        rules: { darkIp: { score: -5 }, sshBruteForce: { port: 70000, category: 'BRUTE-FORCE' } },
        windows: { matchWindw: 1000, tickSecs: '10' },
        topics: { input: 'netflow json' },
        colour: 'blue',
      }),
    ).toEqual([
      'unknown key colour',
      'rules.darkIp.score (-5) must be an integer >= 0',
      'rules.sshBruteForce.category ("BRUTE-FORCE") must be letters, digits or _ (the tag renders as CATEGORY-CODE)',
      'rules.sshBruteForce.port (70000) must be an integer 0-65535',
      'unknown key windows.matchWindw (did you mean matchWindowMs?)',
      'windows.tickSecs ("10") must be an integer >= 1',
      'topics.input ("netflow json") must be a Kafka topic name (1-249 of letters, digits, ".", "_", "-")',
    ]);
  });

  it('rejects a config or section that is not an object', () => {
    expect(errorsOf(null)).toEqual(['config (null) must be an object']);
    expect(errorsOf([])).toEqual(['config ([]) must be an object']);
    expect(errorsOf({ windows: 5 })).toEqual(['windows (5) must be an object']);
  });

  it('rejects non-integer scores and packet thresholds', () => {
    expect(errorsOf({ rules: { intelMq: { score: 7.5 }, unknownTcpPorts: { minPackets: null } } })).toEqual([
      'rules.intelMq.score (7.5) must be an integer >= 0',
      'rules.unknownTcpPorts.minPackets (null) must be an integer >= 0',
    ]);
  });

  it('refuses to change a value the code depends on', () => {
    expect(errorsOf({ rules: { insecureTcpPorts: { protocol: 17 }, tcpHostedService: { kind: 'UDP_HOSTED' } } })).toEqual([
      'rules.tcpHostedService.kind ("UDP_HOSTED") is fixed at "TCP_HOSTED" and cannot be changed',
      'rules.insecureTcpPorts.protocol (17) is fixed at 6 and cannot be changed',
    ]);
  });

  it('rejects malformed scan flag patterns and protocol lists', () => {
    expect(errorsOf({ rules: { possibleScan: { flagPatterns: ['SYN'] } }, discard: { honeypotProtocols: [6, 300] } })).toEqual([
      'rules.possibleScan.flagPatterns (["SYN"]) must be an array of nfdump UAPRSF flag strings like "....S."',
      'discard.honeypotProtocols ([6,300]) must be an array of integers 0-255',
    ]);
  });

  it('rejects a minimum above its maximum', () => {
    expect(
      errorsOf({
        rules: { sshBruteForce: { minPackets: 60 }, httpBruteForce: { http: { minBytes: 2000 } } },
      }),
    ).toEqual([
      'rules.sshBruteForce.minPackets (60) must be <= rules.sshBruteForce.maxPackets (51)',
      'rules.httpBruteForce.http.minBytes (2000) must be <= rules.httpBruteForce.http.maxBytes (1130)',
    ]);
  });

  it('accepts a minimum equal to its maximum', () => {
    expect(configOf({ rules: { sshBruteForce: { minPackets: 51 } } }).rules.sshBruteForce.minPackets).toBe(51);
  });

  it('caps the join window at the message timeout (fixes §15 item 20)', () => {
    expect(configOf({ windows: { joinWindowMs: 60_000 } }).windows.joinWindowMs).toBe(60_000);
    expect(errorsOf({ windows: { joinWindowMs: 60_001 } })).toEqual([
      'windows.joinWindowMs (60001) must be <= windows.messageTimeoutSecs × 1000 (60000): a copy held longer is replayed anyway',
    ]);
  });

  it('requires the message timeout to exceed the tick', () => {
    expect(errorsOf({ windows: { messageTimeoutSecs: 10, joinWindowMs: 5000 } })).toEqual([
      'windows.messageTimeoutSecs (10) must exceed windows.tickSecs (10)',
    ]);
  });

  it('rejects two topics with the same name', () => {
    expect(errorsOf({ topics: { scored: 'netflow-json' } })).toEqual([
      'topics.scored ("netflow-json") must differ from topics.input',
    ]);
  });

  it('reports key problems and cross-key problems together', () => {
    expect(errorsOf({ rules: { darkIp: { score: -1 }, sshBruteForce: { minPackets: 60 } } })).toHaveLength(2);
  });

  it('checks the Redis database number and metric prefix', () => {
    expect(errorsOf({ redis: { intelDb: -1 }, metrics: { prefix: 'themis-prod' } })).toEqual([
      'redis.intelDb (-1) must be an integer >= 0',
      'metrics.prefix ("themis-prod") must match [a-zA-Z_][a-zA-Z0-9_]* (a Prometheus name)',
    ]);
  });
});
