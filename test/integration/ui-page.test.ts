import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { generateFlows } from '../../bench/lib/flow-generator.js';
import { spawnCli } from '../helpers/cli.js';
import { parseSamples, scrape } from '../helpers/prometheus.js';

/**
 * The live page as a person sees it: Debian's Chromium, headless, driven by playwright-core, on a
 * topology that reads generated flows from standard input kept open while the test looks.
 */

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT = new URL('../../test-results/ui-page.png', import.meta.url).pathname;

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

describe('the live page', () => {
  it('shows every component, numbers that agree with /metrics within one refresh, the worst sources and, on a click, their conversations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'themis-ui-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const child = spawnCli('themis-topology', ['submit', '1', '1', '1000', '0', 'uipage', '--input', '-', '--output-dir', join(dir, 'out'), '--workers', '2', '--metrics-port', '0'], { stdin: 'pipe' });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
    // Generated traffic (scans, brute force, block-listed hosts, ordinary sessions), about 1,000 lines a second.
    const lines = generateFlows({ count: 1_000_000, seed: 16 })[Symbol.iterator]();
    const feed = setInterval(() => {
      let chunk = '';
      for (let i = 0; i < 50; i++) chunk += `${lines.next().value as string}\n`;
      child.stdin!.write(chunk);
    }, 50);
    cleanups.push(() => clearInterval(feed));

    let base: string | null = null;
    for (const deadline = Date.now() + 60_000; base === null; await new Promise((r) => setTimeout(r, 200))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no live page announced\n${stderr.slice(-2000)}`);
      base = /live page on (http:\/\/\S+)\//.exec(stderr)?.[1] ?? null;
    }

    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    cleanups.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    await page.goto(`${base}/`);

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

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    clearInterval(feed);
    child.stdin!.end();
    expect(await exited, stderr.slice(-2000)).toBe(0);
  }, 180_000);
});
