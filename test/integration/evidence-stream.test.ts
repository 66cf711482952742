import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, type BackgroundCli } from '../helpers/background-cli.js';
import { eventually } from '../helpers/postgres.js';

/**
 * Issue 14 on a stream: with standard input kept open, the evidence stage writes its alert, and
 * the scan's conversations with their EVIDENCE tag, while the input is still open; at the end
 * each conversation is written exactly once. Small windows through --config; every wait is on an
 * event, with a generous bound.
 */
const T0 = 1_710_234_000;
const WAIT_MS = 60_000;
const SCANNER = '203.0.113.66';
const PORTS = 20;

/** A SYN probe of one port of 192.0.2.10, answered by RST: both directions, as an exporter sends them. */
function probeLines(i: number): string[] {
  const t = T0 + i;
  const base = { start_timestamp_unix_secs: t, end_timestamp_unix_secs: t, protocol: 6, tos: 0 };
  return [
    JSON.stringify({ id: 2 * i + 1, ...base, src_ip: SCANNER, src_port: 40_000, dst_ip: '192.0.2.10', dst_port: 1_000 + i, packets: 1, bytes: 44, flags: '....S.' }),
    JSON.stringify({ id: 2 * i + 2, ...base, src_ip: '192.0.2.10', src_port: 1_000 + i, dst_ip: SCANNER, dst_port: 40_000, packets: 1, bytes: 40, flags: '.A.R..' }),
  ];
}

const readLines = (file: string): Record<string, unknown>[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];

describe('the evidence stage on standard input kept open', () => {
  let dir: string | undefined;
  let topology: BackgroundCli | undefined;
  afterAll(async () => {
    if (topology && topology.child.exitCode === null) await topology.stop('SIGKILL').catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the PORT_SCAN alert and the tagged conversations before the input ends, each conversation once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'themis-evidence-stream-'));
    const out = join(dir, 'out');
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        windows: { messageTimeoutSecs: 2, joinWindowMs: 2_000, matchWindowMs: 5_000, tickSecs: 1 },
        evidence: { enabled: true, holdSecs: 0, maxHoldMs: 1_000 },
      }),
    );
    topology = startCli('themis-topology', ['submit', '1', '1', '100', '0', 'evidence-stdin', '--input', '-', '--config', config, '--output-dir', out, '--no-metrics-port'], { stdin: 'pipe' });
    const running = topology;
    const alive = () => {
      if (running.child.exitCode !== null) throw new Error(`the topology exited early:\n${running.stderr().slice(-3000)}`);
    };
    for (let i = 0; i < PORTS; i++) running.child.stdin!.write(`${probeLines(i).join('\n')}\n`);

    const alertsFile = join(out, 'alerts.jsonl');
    await eventually('the PORT_SCAN alert is written', () => (alive(), readLines(alertsFile).some((a) => a['alert_type'] === 'PORT_SCAN')), WAIT_MS, 100);
    const scoredFile = join(out, 'scored-flows.jsonl');
    await eventually('every scan conversation is written', () => (alive(), readLines(scoredFile).length >= PORTS), WAIT_MS, 100);
    expect(running.child.exitCode).toBeNull();

    // The random walk is sure at the 4th failed first contact, the port scan at the 15th port; each
    // raise releases the held probes with its tag, and later ones go at once with both.
    const raisedOf = (type: string) => readLines(alertsFile).find((a) => a['alert_type'] === type && a['status'] === 'raised');
    expect(raisedOf('RANDOM_WALK_SCAN')).toMatchObject({ source_ip: SCANNER, first_seen: T0, last_seen: T0 + 3, attempts: 4, score: 100 });
    expect(raisedOf('PORT_SCAN')).toMatchObject({
      source_ip: SCANNER,
      first_seen: T0,
      last_seen: T0 + 14,
      target_ips: ['192.0.2.10'],
      target_ports: Array.from({ length: 15 }, (_, i) => 1_000 + i),
      attempts: 15,
      score: 100,
    });
    const scored = readLines(scoredFile);
    expect(scored.every((r) => (r['tags'] as string[]).some((t) => t.startsWith('EVIDENCE-')))).toBe(true);
    const tagged = (port: number) => scored.find((r) => r['src_port'] === port || r['dst_port'] === port)!['tags'];
    expect(tagged(1_000)).toContain('EVIDENCE-RANDOM_WALK_SCAN');
    expect(tagged(1_000 + PORTS - 1)).toEqual(expect.arrayContaining(['EVIDENCE-RANDOM_WALK_SCAN', 'EVIDENCE-PORT_SCAN']));

    running.child.stdin!.end();
    const result = await running.waitForExit(WAIT_MS);
    expect(result.code).toBe(0);
    const ids = readLines(scoredFile).map((r) => r['flow_id']);
    expect(ids).toHaveLength(PORTS);
    expect(new Set(ids).size).toBe(PORTS);
    // The tick after the last probe writes the alert's update: attempts 20, the last probe's time.
    const portScan = readLines(alertsFile).filter((a) => a['alert_id'] === `PORT_SCAN:${SCANNER}:${T0 + 14}`);
    expect(portScan.at(-1)).toMatchObject({ status: 'updated', attempts: PORTS, last_seen: T0 + PORTS - 1 });
  }, 120_000);
});
