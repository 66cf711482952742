import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli } from '../helpers/background-cli.js';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/postgres.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'themis-cli-'));
/** An ICMP flow: not held for a reverse direction, so scored as soon as it is read. */
const flow = (id: number, src: string, dst: string) =>
  JSON.stringify({ id, start_timestamp_unix_secs: 1704067200 + id, end_timestamp_unix_secs: 1704067200 + id, protocol: 1, src_ip: src, dst_ip: dst, src_port: 0, dst_port: 0, packets: 1, bytes: 84 });
const scoredIds = (dir: string) =>
  readFileSync(join(dir, 'scored-flows.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { flow_id: number }).flow_id)
    .sort();
const lineCount = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).length;

describe('themis-topology submit: arguments', () => {
  it('refuses non-integer and out-of-range arguments, naming each one', async () => {
    const r = await runCli('themis-topology', ['submit', 'two', '0', '-5', '1.5', 'bad name!', '--no-metrics-port']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('<executors> must be an integer 1-256, got "two"');
    expect(r.stderr).toContain('<tasks> must be an integer 1-1024, got 0');
    expect(r.stderr).toContain('<maxPending> must be an integer 1-10000000, got -5');
    expect(r.stderr).toContain('<extraMatch> must be an integer 0-256, got "1.5"');
    expect(r.stderr).toContain('<name> must be 1-63 letters');
  });

  it('refuses a worker heap cap below what a worker needs to start', async () => {
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'heap', '--worker-heap-mb', '16', '--no-metrics-port']);
    expect(r.code).toBe(1); // commander's exit code for an invalid option value
    expect(r.stderr).toContain(`--worker-heap-mb must be 0 (V8's own limit) or an integer 64-1048576, got "16"`);
  });

  it("runs with V8's own heap limit when --worker-heap-mb is 0", async () => {
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'heap0', '--worker-heap-mb', '0', '--output-dir', join(tmp(), 'out'), '--no-metrics-port']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/themis: done in [\d.]+ s: \d+ lines/);
  });

  it('refuses a config with unknown keys or bad values, naming the key, before any worker starts', async () => {
    const dir = tmp();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ rules: { darkIp: { score: -5 } }, windows: { matchWindw: 1 } }));
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'cfg', '--config', config, '--no-metrics-port']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rules.darkIp.score (-5) must be an integer >= 0');
    expect(r.stderr).toContain('unknown key windows.matchWindw');
    expect(r.stderr).not.toContain('instance cfg');
  });

  it('refuses a parallelism file naming an unknown component', async () => {
    const dir = tmp();
    const file = join(dir, 'parallelism.json');
    writeFileSync(file, JSON.stringify({ 'match-flowz': { executors: 2, tasks: 2 }, 'join-streams': { executors: 2, tasks: 1 } }));
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'par', '--parallelism', file, '--no-metrics-port']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown component "match-flowz"');
    expect(r.stderr).toContain('join-streams.tasks (1) must be an integer >= executors (2)');
  });

  it('says which input file is missing', async () => {
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'nofile', '--input', '/nonexistent/flows.jsonl', '--no-metrics-port']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--input /nonexistent/flows.jsonl: no such file');
  });

  it('reads flows from standard input and keeps the valid lines around a bad one', async () => {
    const dir = tmp();
    const input = [flow(1, '198.51.100.7', '192.0.2.1'), '{"id": 2, "protocol": "six"}', flow(3, '192.0.2.1', '203.0.113.9')].join('\n');
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'stdin', '--input', '-', '--output-dir', dir, '--workers', '1', '--no-metrics-port'], { input });
    expect(r.code, r.stderr).toBe(0);
    expect(scoredIds(dir)).toEqual([1, 3]);
    const ignored = readFileSync(join(dir, 'ignored-flows.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: string; reason: string; origin: string });
    expect(ignored).toHaveLength(1);
    expect(ignored[0]!.stage).toBe('parse');
    expect(ignored[0]!.origin).toBe('stdin:2');
    expect(ignored[0]!.reason).toMatch(/start_timestamp_unix_secs|protocol/);
    expect(r.stderr).toMatch(/done in .* 3 lines/);
  });

  it('starts the output files empty on every run, and adds to the earlier records with --append', async () => {
    const dir = tmp();
    const input = [flow(1, '198.51.100.7', '192.0.2.1'), 'not a flow', flow(3, '192.0.2.1', '203.0.113.9')].join('\n');
    const submit = (extra: string[]) => runCli('themis-topology', ['submit', '1', '1', '100', '0', 'again', '--input', '-', '--output-dir', dir, '--workers', '1', '--no-metrics-port', ...extra], { input });

    for (const run of [1, 2]) {
      const r = await submit([]);
      expect(r.code, r.stderr).toBe(0);
      expect(scoredIds(dir), `after run ${run}`).toEqual([1, 3]);
      expect(lineCount(join(dir, 'ignored-flows.jsonl')), `after run ${run}`).toBe(1);
    }
    const details = lineCount(join(dir, 'scored-flows-detail.jsonl'));
    const r = await submit(['--append']);
    expect(r.code, r.stderr).toBe(0);
    expect(scoredIds(dir)).toEqual([1, 1, 3, 3]);
    expect(lineCount(join(dir, 'scored-flows-detail.jsonl'))).toBe(2 * details);
    expect(lineCount(join(dir, 'ignored-flows.jsonl'))).toBe(2);
  });

  it('holds the flows an output cannot take (its breaker open, logged) instead of failing them, and says so when stopped', async () => {
    const dir = tmp();
    // The scored output cannot be written (a directory stands where its file goes). That is the
    // output's fault, not the flows': they are held, not failed, replayed or ignored.
    mkdirSync(join(dir, 'scored-flows.jsonl'));
    const input = join(dir, 'flows.jsonl');
    writeFileSync(input, [flow(1, '198.51.100.7', '192.0.2.1'), 'not a flow'].join('\n'));
    const args = ['submit', '1', '1', '100', '0', 'failing', '--input', input, '--output-dir', dir, '--max-retries', '2', '--workers', '1', '--no-metrics-port'];

    const fresh = await runCli('themis-topology', args);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain(`cannot start the outputs in ${dir} afresh`);
    expect(fresh.stderr).toContain('--append adds to them instead');

    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ windows: { messageTimeoutSecs: 2, tickSecs: 1, joinWindowMs: 1000 } }));
    const r = startCli('themis-topology', [...args, '--append', '--config', config]);
    try {
      await eventually('the output bolt opens its breaker', () => r.stderr().includes('circuit breaker open'), 30_000);
      expect(r.stderr()).toMatch(/"dependency":"output files".*EISDIR/);
      const stopped = await r.stop('SIGINT', 30_000);
      expect(stopped.code, stopped.stderr).toBe(3);
      expect(stopped.stderr).toContain('themis-topology: stopped by SIGINT: 1 flow(s) read were not finished');
      expect(stopped.stderr).toMatch(/1 invalid, 0 failed every retry/);
    } finally {
      if (r.child.exitCode === null && r.child.signalCode === null) await r.stop('SIGKILL');
    }
    const ignored = readFileSync(join(dir, 'ignored-flows.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { stage: string; origin: string });
    expect(ignored.map(({ stage, origin }) => ({ stage, origin }))).toEqual([{ stage: 'parse', origin: `${input}:2` }]);
  });

  it('exits with the error when the run cannot start on standard input', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'scored-flows.jsonl')); // the output file cannot be started afresh
    const r = await runCli('themis-topology', ['submit', '1', '1', '100', '0', 'nostart', '--input', '-', '--output-dir', dir, '--workers', '1', '--no-metrics-port'], {
      input: flow(1, '198.51.100.7', '192.0.2.1'),
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot start the outputs in ${dir} afresh`);
  });
});
