import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../../bench/lib/chromium.js';
import { generateFlows } from '../../bench/lib/flow-generator.js';
import { spawnCli } from '../helpers/cli.js';
import { parseSamples, scrape } from '../helpers/prometheus.js';

/**
 * The live page as a person sees it: Debian's Chromium, headless, driven by playwright-core, on a
 * topology that reads generated flows from standard input kept open while the test looks.
 */

const SCREENSHOT = new URL('../../test-results/ui-page.png', import.meta.url).pathname;
const ALERTS_SCREENSHOT = new URL('../../test-results/ui-page-alerts.png', import.meta.url).pathname;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Sum of a counter over the tasks of one component, as /metrics serves it. */
function metricTotal(text: string, name: string, component: string): number {
  return parseSamples(text)
    .filter((s) => s.name === name && s.labels.component === component)
    .reduce((n, s) => n + s.value, 0);
}

/** The number a component's cell holds (its raw value, before formatting). */
async function shown(page: Page, component: string, field: string): Promise<number> {
  return Number(await page.locator(`#components tr[data-component="${component}"] td[data-field="${field}"]`).getAttribute('data-value'));
}

/** Waits until the page's browser-side condition holds (an expression: the tests compile without the DOM's types). */
async function until(page: Page, expression: string, timeoutMs: number): Promise<void> {
  await page.waitForFunction(expression, undefined, { timeout: timeoutMs });
}

interface PageRun {
  readonly child: ChildProcess;
  readonly base: string;
  readonly page: Page;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** `themis-topology submit` on standard input kept open (with a --config file when given), and the live page open in Chromium. */
async function openPage(instance: string, config?: object): Promise<PageRun> {
  const dir = mkdtempSync(join(tmpdir(), 'themis-ui-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const args = ['submit', '1', '1', '1000', '0', instance, '--input', '-', '--output-dir', join(dir, 'out'), '--workers', '2', '--metrics-port', '0'];
  if (config) {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    args.push('--config', join(dir, 'config.json'));
  }
  const child = spawnCli('themis-topology', args, { stdin: 'pipe' });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let base: string | null = null;
  for (const deadline = Date.now() + 60_000; base === null; await new Promise((r) => setTimeout(r, 200))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no live page announced\n${stderr.slice(-2000)}`);
    base = /live page on (http:\/\/\S+)\//.exec(stderr)?.[1] ?? null;
  }
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(`${base}/`);
  return { child, base, page, exited, stderr: () => stderr };
}

async function screenshot(page: Page, path: string): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  await page.screenshot({ path, fullPage: true });
}

describe('the live page', () => {
  it('shows every component, numbers that agree with /metrics within one refresh, the worst sources and, on a click, their conversations', async () => {
    const { child, base, page, exited, stderr } = await openPage('uipage');
    // Generated traffic (scans, brute force, block-listed hosts, ordinary sessions), about 1,000 lines a second.
    const lines = generateFlows({ count: 1_000_000, seed: 16 })[Symbol.iterator]();
    const feed = setInterval(() => {
      let chunk = '';
      for (let i = 0; i < 50; i++) chunk += `${lines.next().value as string}\n`;
      child.stdin!.write(chunk);
    }, 50);
    cleanups.push(() => clearInterval(feed));

    // Every component that /metrics knows is a box of the graph and a row of the table.
    // Read once every worker thread has sent its first report (each reports its own components).
    const componentsOnMetrics = async () => [...new Set(parseSamples(await scrape(`${base}/metrics`)).filter((s) => s.name === 'themis_emitted_tuples_total').map((s) => s.labels.component!))];
    let components = await componentsOnMetrics();
    for (const deadline = Date.now() + 30_000; components.length <= 20 && Date.now() < deadline; components = await componentsOnMetrics()) await new Promise((r) => setTimeout(r, 200));
    expect(components.length).toBeGreaterThan(20);
    for (const c of components) {
      await page.locator(`#graph g.node[data-component="${c}"]`).waitFor({ timeout: 30_000 });
      await page.locator(`#components tr[data-component="${c}"]`).waitFor({ timeout: 30_000 });
    }
    expect(await page.locator('#graph g.node').count()).toBe(components.length);
    expect(await page.locator('#graph path.edge').count()).toBeGreaterThanOrEqual(components.length - 1);

    // A number shown agrees with /metrics within one refresh: what the page showed before the
    // scrape is at most the scraped value, and what it shows after the next push at least that.
    await until(page, `Number(document.querySelector('#status')?.dataset.updates ?? 0) >= 2`, 30_000);
    for (const [component, field, metric] of [
      ['json-to-tuple', 'executed', 'themis_executed_tuples_total'],
      ['flow-spout', 'acked', 'themis_acked_tuples_total'],
    ] as const) {
      const before = await shown(page, component, field);
      const scrapedAt = Date.now();
      const scraped = metricTotal(await scrape(`${base}/metrics`), metric, component);
      // data-at is the server's time of the state shown; the page then shows a state taken after the scrape.
      await until(page, `Number(document.querySelector('#status')?.dataset.at) > ${scrapedAt}`, 10_000);
      const after = await shown(page, component, field);
      expect(scraped, `${component} ${field}`).toBeGreaterThan(0);
      expect(before, `${component} ${field} shown before the scrape`).toBeLessThanOrEqual(scraped);
      expect(after, `${component} ${field} shown after the next push`).toBeGreaterThanOrEqual(scraped);
    }

    // The rates chart draws its series, the top sources fill, and a click shows conversations.
    await page.locator('#rates path[data-series="linesIn"]').waitFor({ timeout: 30_000 });
    await until(page, `document.querySelectorAll('#top-sources tbody tr').length >= 5`, 30_000);
    const first = page.locator('#top-sources tbody tr').first();
    const ip = (await first.getAttribute('data-ip'))!;
    expect(Number((await first.locator('td').nth(1).textContent())!.replace(/,/g, ''))).toBeGreaterThan(0);
    expect((await first.locator('.tag').count()) > 0).toBe(true);
    await first.click();
    await expect.poll(() => page.locator('#conversations-of').textContent()).toBe(ip);
    await until(page, `document.querySelectorAll('#conversations tbody tr').length > 0`, 10_000);
    const sources = await page.locator('#conversations tbody tr td:nth-child(4)').allTextContents();
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) expect(s.startsWith(ip.includes(':') ? `[${ip}]` : `${ip}:`)).toBe(true);

    // File input: no Kafka lag table; evidence stage off: no alerts table.
    expect(await page.locator('#kafka-lag-section').isHidden()).toBe(true);
    expect(await page.locator('#alerts-section').isHidden()).toBe(true);
    await screenshot(page, SCREENSHOT);

    clearInterval(feed);
    child.stdin!.end();
    expect(await exited, stderr().slice(-2000)).toBe(0);
  }, 180_000);

  it('with the evidence stage on, shows a port scan in the latest alerts and updates its row in place as the scan goes on', async () => {
    // Small windows, as in evidence-stream.test.ts: the stage raises the alert while the input stays open.
    const { child, page, exited, stderr } = await openPage('uialerts', {
      windows: { messageTimeoutSecs: 2, joinWindowMs: 2_000, matchWindowMs: 5_000, tickSecs: 1 },
      evidence: { enabled: true, holdSecs: 0, maxHoldMs: 1_000 },
    });
    const row = page.locator(`#alerts tbody tr[data-alert="PORT_SCAN ${SCANNER}"]`);
    await page.locator('#alerts-section').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await row.count()).toBe(0);

    // 20 ports probed: the alert is raised at the 15th.
    child.stdin!.write(probeLines(0, 20));
    await row.waitFor({ timeout: 60_000 });
    expect(await row.locator('td').nth(2).textContent()).toBe(SCANNER);
    expect(await row.locator('td').nth(7).textContent()).toBe(TARGET);
    const attemptsShown = async () => Number((await row.locator('td').nth(5).textContent())!.replace(/,/g, ''));
    expect(await attemptsShown()).toBeGreaterThanOrEqual(15);
    expect(await attemptsShown()).toBeLessThanOrEqual(20);

    // 20 more: the same alert is updated, its row replaced where it stands, not added again.
    child.stdin!.write(probeLines(20, 40));
    await expect.poll(attemptsShown, { timeout: 60_000, interval: 250 }).toBe(40);
    // One row per type and source: the port scan, and the random-walk scan (TRW) the same probes raise.
    const keys = await page.locator('#alerts tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-alert')));
    expect([...keys].sort()).toEqual([`PORT_SCAN ${SCANNER}`, `RANDOM_WALK_SCAN ${SCANNER}`]);
    expect(await row.getAttribute('data-status')).not.toBe('closed');
    expect(await page.locator('#alerts-empty').isHidden()).toBe(true);
    await screenshot(page, ALERTS_SCREENSHOT);

    child.stdin!.end();
    expect(await exited, stderr().slice(-2000)).toBe(0);
  }, 180_000);
});

const T0 = 1_710_234_000;
const SCANNER = '203.0.113.66';
const TARGET = '192.0.2.10';

/** SYN probes of ports 1000+from … 1000+to-1 of TARGET, one a second, each answered by RST (both directions, as an exporter sends them). */
function probeLines(from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) {
    const base = { start_timestamp_unix_secs: T0 + i, end_timestamp_unix_secs: T0 + i, protocol: 6, tos: 0 };
    out += `${JSON.stringify({ id: 2 * i + 1, ...base, src_ip: SCANNER, src_port: 40_000, dst_ip: TARGET, dst_port: 1_000 + i, packets: 1, bytes: 44, flags: '....S.' })}\n`;
    out += `${JSON.stringify({ id: 2 * i + 2, ...base, src_ip: TARGET, src_port: 1_000 + i, dst_ip: SCANNER, dst_port: 40_000, packets: 1, bytes: 40, flags: '.A.R..' })}\n`;
  }
  return out;
}
