import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import type { ThemisRun as RunningThemis } from '../../topology/run-themis.js';
import { launchChromium } from './chromium.js';

/**
 * The live page's cost on a run (issue 16: at most 3 % apart): the same file-to-file run with the
 * page closed and with it open in a headless Chromium (Debian's, driven by playwright-core as
 * test/integration/ui-page.test.ts drives it), several rounds, alternated ABBA (closed-open,
 * open-closed, …) so that a drift of the machine's speed weighs on both sides alike. Both runs
 * serve /metrics on an ephemeral port; only the page differs. The browser is started once, before
 * the first round, and is idle during the closed runs.
 */

export interface PageRun {
  readonly round: number;
  readonly page: 'closed' | 'open';
  readonly flowsPerSec: number;
  /** From STEADY_AFTER_SECS on: the open page loaded, its first pushes rendered. */
  readonly steadyFlowsPerSec: number | null;
  readonly peakRssMb: number;
  /** State pushes the open page received (0 when closed): the page was live through the run. */
  readonly pageUpdates: number;
}

export interface PageCost {
  readonly rounds: number;
  readonly runs: readonly PageRun[];
  readonly closedMeanFlowsPerSec: number;
  readonly openMeanFlowsPerSec: number;
  /** (open − closed) / closed, percent: negative when the open page slowed the runs. */
  readonly differencePct: number;
  /** The same from STEADY_AFTER_SECS to the end: what a page kept open costs, its load left out. */
  readonly closedSteadyMeanFlowsPerSec: number;
  readonly openSteadyMeanFlowsPerSec: number;
  readonly steadyDifferencePct: number;
}

/**
 * Opening the page costs Chromium about 1 s of CPU (its load, measured with /proc on this
 * machine), then about 50 ms per push; the whole-run figure counts the load in a run of a few
 * seconds, the steady one leaves the first seconds out of both sides alike.
 */
export const STEADY_AFTER_SECS = 4;

/** The benchmark's file run, with the page hook. */
export type RunWithHook = (onStarted: PageHook) => Promise<{ flowsPerSec: number; steadyFlowsPerSec: number | null; peakRssMb: number; pageUpdates: number }>;

/**
 * Called once the topology has started, inside the timed span (so that opening the page costs the
 * open runs what it costs); the function it returns is called once the input is done, and gives
 * the page's updates.
 */
export type PageHook = (run: RunningThemis) => Promise<() => Promise<number>>;

export async function measurePageCost(rounds: number, runFile: RunWithHook, log: (line: string) => void): Promise<PageCost> {
  const browser = await launchChromium();
  const runs: PageRun[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const order: Array<'closed' | 'open'> = round % 2 === 1 ? ['closed', 'open'] : ['open', 'closed'];
      for (const side of order) {
        const r = await runFile(async (run) => (side === 'open' ? openPage(browser, run) : async () => 0));
        runs.push({ round, page: side, flowsPerSec: r.flowsPerSec, steadyFlowsPerSec: r.steadyFlowsPerSec, peakRssMb: r.peakRssMb, pageUpdates: r.pageUpdates });
        log(`bench: page ${side}, round ${round}: ${r.flowsPerSec.toLocaleString('en-US')} flows/s, ${r.steadyFlowsPerSec?.toLocaleString('en-US') ?? '-'} after ${STEADY_AFTER_SECS} s${side === 'open' ? `, ${r.pageUpdates} page updates` : ''}`);
      }
    }
  } finally {
    await browser.close();
  }
  const mean = (side: 'closed' | 'open', rate: (r: PageRun) => number | null) => {
    const rates = runs.filter((r) => r.page === side).map((r) => rate(r) ?? NaN);
    return Math.round(rates.reduce((a, b) => a + b, 0) / rates.length);
  };
  const pct = (open: number, closed: number) => Number((((open - closed) / closed) * 100).toFixed(2));
  const closed = mean('closed', (r) => r.flowsPerSec);
  const open = mean('open', (r) => r.flowsPerSec);
  const closedSteady = mean('closed', (r) => r.steadyFlowsPerSec);
  const openSteady = mean('open', (r) => r.steadyFlowsPerSec);
  return {
    rounds,
    runs,
    closedMeanFlowsPerSec: closed,
    openMeanFlowsPerSec: open,
    differencePct: pct(open, closed),
    closedSteadyMeanFlowsPerSec: closedSteady,
    openSteadyMeanFlowsPerSec: openSteady,
    steadyDifferencePct: pct(openSteady, closedSteady),
  };
}

/** Opens the live page of the run; the returned function reads how many pushes it got, and closes it. */
async function openPage(browser: Browser, run: RunningThemis): Promise<() => Promise<number>> {
  const address = run.metricsServer!.address() as AddressInfo;
  const page: Page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(`http://127.0.0.1:${address.port}/`);
  return async () => {
    const updates = Number((await page.locator('#status').getAttribute('data-updates')) ?? 0);
    await page.close();
    return updates;
  };
}
