import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * The live page beside `/metrics`: static assets read once from a directory at start (no build
 * step), `/state` with the latest state as JSON, and `/events`, server-sent events pushing the
 * state every `intervalMs` to each open page. The state is computed once per interval for every
 * client together, and only while one is connected: with no page open the page costs nothing.
 * Clients are capped (MAX_CLIENTS), so the server's memory is bounded whoever connects.
 */

export interface LivePageOptions {
  /** Holds index.html, page.js and page.css. */
  readonly assetsDir: string;
  /** The state pushed to the page; must be JSON-serialisable. */
  readonly state: () => unknown;
  /** Default 2000. */
  readonly intervalMs?: number;
}

const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
};

const MAX_CLIENTS = 16;

export class LivePage {
  private readonly assets = new Map<string, { body: Buffer; type: string }>();
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private latest: string | null = null;
  readonly intervalMs: number;

  constructor(private readonly o: LivePageOptions) {
    this.intervalMs = o.intervalMs ?? 2000;
    for (const [path, a] of Object.entries(ASSETS)) this.assets.set(path, { body: readFileSync(join(o.assetsDir, a.file)), type: a.type });
  }

  /** Answers the page's routes; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0]!;
    const asset = this.assets.get(path);
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' }).end(asset.body);
      return true;
    }
    if (path === '/state') {
      // While pages are open the latest pushed state, so that it agrees with theirs.
      res.writeHead(200, { 'content-type': 'application/json' }).end(this.timer && this.latest !== null ? this.latest : this.compute());
      return true;
    }
    if (path !== '/events') return false;
    if (this.clients.size >= MAX_CLIENTS) {
      res.writeHead(503, { 'retry-after': '10' }).end(`at most ${MAX_CLIENTS} pages at once\n`);
      return true;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(`retry: ${this.intervalMs}\n\n`);
    this.clients.add(res);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    });
    res.write(`data: ${this.latest ?? this.compute()}\n\n`);
    this.timer ??= setInterval(() => this.push(), this.intervalMs);
    return true;
  }

  private compute(): string {
    this.latest = JSON.stringify(this.o.state());
    return this.latest;
  }

  private push(): void {
    const frame = `data: ${this.compute()}\n\n`;
    for (const c of this.clients) c.write(frame);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Ends every open event stream (the HTTP server's close waits for them otherwise). */
  close(): void {
    this.stopTimer();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}
