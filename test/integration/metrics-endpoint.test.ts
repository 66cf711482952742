import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { histogramQuantile, parseSamples, promtoolCheckMetrics, scrape, select } from '../helpers/prometheus.js';

/** Served with Kafka input only (the Kafka spout's gauges, spouts/kafka/lag-gauges.ts). */
const KAFKA_INPUT_ONLY = ['themis_kafka_consumer_lag_messages', 'themis_kafka_committed_lag_messages'];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An ICMP flow: scored without waiting for a reverse direction. */
function icmpFlow(id: number): string {
  return JSON.stringify({ id, start_timestamp_unix_secs: 1704067200 + id, end_timestamp_unix_secs: 1704067200 + id, protocol: 1, src_ip: '198.51.100.7', dst_ip: '192.0.2.1', src_port: 0, dst_port: 0, packets: 1, bytes: 84 });
}

describe('themis-topology metrics endpoint', () => {
  it('serves metrics that promtool check metrics accepts while a run goes on, the scored latency a histogram in seconds, every metric the deploy kit names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'themis-metrics-'));
    dirs.push(dir);
    const child = spawnCli('themis-topology', ['submit', '1', '1', '1000', '0', 'promtool', '--input', '-', '--output-dir', join(dir, 'out'), '--workers', '2', '--metrics-port', '0'], { stdin: 'pipe' });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Flows keep coming while the test scrapes, so the scrape is of a running topology.
    let next = 1;
    const feed = setInterval(() => {
      const lines: string[] = [];
      for (let i = 0; i < 20; i++) lines.push(icmpFlow(next++));
      child.stdin!.write(`${lines.join('\n')}\n`);
    }, 50);
    try {
      const deadline = Date.now() + 60_000;
      let url: string | null = null;
      let text = '';
      for (;;) {
        if (Date.now() > deadline) throw new Error(`no scored latency on /metrics within 60 s\n${stderr.slice(-2000)}\n${text.slice(0, 2000)}`);
        await new Promise((r) => setTimeout(r, 200));
        url ??= /metrics on (http:\/\/\S+\/metrics)/.exec(stderr)?.[1] ?? null;
        if (url === null) continue;
        text = await scrape(url);
        // Each worker thread reports its own tasks: wait for the first report of both (the timer
        // bolts' counters are on different threads) and for a scored latency.
        const samples = parseSamples(text);
        const reported = ['themis_first_tuple_total', 'themis_last_tuple_total'].every((name) => select(samples, name).length > 0);
        if (reported && (select(samples, 'themis_scored_latency_seconds_count')[0]?.value ?? 0) > 0) break;
      }
      expect(await promtoolCheckMetrics(text)).toBe('');
      const samples = parseSamples(text);
      expect(text).toMatch(/^# TYPE themis_scored_latency_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE themis_execute_latency_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE themis_complete_latency_seconds histogram$/m);
      const p99 = histogramQuantile(0.99, samples, 'themis_scored_latency_seconds', { instance: 'promtool' });
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThan(10);
      // No name of the old counters survives: no milliseconds, no bucket per counter.
      expect(text).not.toMatch(/_ms_|scored_latency_le_/);

      // The deploy kit names only metrics this endpoint serves, and promtool accepts its files.
      const kit = ['deploy/prometheus/themis-rules.yml', 'deploy/grafana/themis-dashboard.json'].map((f) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8')).join('\n');
      const served = new Set([...text.matchAll(/^# TYPE (themis_\w+) /gm)].map((m) => m[1]!));
      const named = new Set([...kit.matchAll(/\b(themis_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
      // The Kafka spout's lag gauges exist with Kafka input only: kafka-lag.test.ts finds them served there.
      expect([...named].filter((n) => !served.has(n) && !KAFKA_INPUT_ONLY.includes(n)), 'metrics the deploy kit names that the endpoint does not serve').toEqual([]);
      expect(KAFKA_INPUT_ONLY.every((n) => named.has(n)), 'the kit names the Kafka lag gauges').toBe(true);
      const deploy = new URL('../../deploy/prometheus/', import.meta.url).pathname;
      expect(execFileSync('promtool', ['check', 'rules', 'themis-rules.yml'], { cwd: deploy, encoding: 'utf8' })).toContain('SUCCESS: 15 rules found');
      expect(execFileSync('promtool', ['test', 'rules', 'themis-rules.test.yml'], { cwd: deploy, encoding: 'utf8' })).toContain('SUCCESS');
      expect(execFileSync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: deploy, encoding: 'utf8' })).toContain('is valid prometheus config file syntax');
    } finally {
      clearInterval(feed);
      child.stdin!.end();
    }
    expect(await exited, stderr.slice(-2000)).toBe(0);
  });
});
