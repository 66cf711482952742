import type { Pool } from 'pg';
import type { Logger, MetricCounter } from '../../runtime/index.js';
import type { IpAddress } from '../lookup/ip-address.js';
import type { CountryLookup, ServiceKind, ServiceLookup } from '../stores.js';
import { describeCause, pgError, PostgresError } from './errors.js';
import { buildCountryLookup, buildServiceLookup, type KnownHostServiceRow, type SuspectCountryRow } from './list-rows.js';
import { describeTarget } from './pool.js';

/**
 * The service and country lookups of production mode, read from PostgreSQL (reference §7.3-7.4)
 * into memory and reloaded every refreshSecs without a restart (fixes §15 item 27). The per-flow
 * path stays synchronous: it reads the current in-memory table, which a reload replaces whole in
 * one assignment, so a flow never sees half of an old and half of a new table. A failed reload
 * keeps the last good table, is logged and counted; a failed first load stops start-up with an
 * error naming the database (fixes §15 items 25-26, where a missing table or connection surfaced
 * as a null dereference at first use).
 */

/** §7.3's join; every kind at once (the original ran one query per protocol/hosted pair). */
const SERVICES_SQL = `
  SELECT h.ip_address::text AS ip_address, s.protocol, s.port, s.is_hosted
  FROM list_known_host h
  JOIN list_known_host_service s ON s.list_known_host_id = h.id`;

const COUNTRIES_SQL = 'SELECT country_code, weighting::text AS weighting FROM suspect_country';

/** One read of list_known_host + list_known_host_service. */
export async function loadServiceLookup(pool: Pool): Promise<ServiceLookup> {
  const target = describeTarget(pool);
  const rows = await query<{ ip_address: string; protocol: number; port: number; is_hosted: boolean }>(
    pool,
    SERVICES_SQL,
    'load known host services',
  );
  return fromRows('load known host services', target, () =>
    buildServiceLookup(
      rows.map(
        (r): KnownHostServiceRow => ({ ipAddress: r.ip_address, protocol: r.protocol, port: r.port, isHosted: r.is_hosted, description: '' }),
      ),
      `list_known_host_service on ${target}`,
    ),
  );
}

/** One read of suspect_country. */
export async function loadCountryLookup(pool: Pool): Promise<CountryLookup> {
  const target = describeTarget(pool);
  const rows = await query<{ country_code: string; weighting: string }>(pool, COUNTRIES_SQL, 'load suspect countries');
  return fromRows('load suspect countries', target, () =>
    buildCountryLookup(
      rows.map((r): SuspectCountryRow => ({ countryCode: r.country_code, weighting: r.weighting })),
      `suspect_country on ${target}`,
    ),
  );
}

async function query<R extends object>(pool: Pool, sql: string, operation: string): Promise<R[]> {
  try {
    return (await pool.query<R>(sql)).rows;
  } catch (cause) {
    throw pgError(operation, describeTarget(pool), cause);
  }
}

/** Rows the table constraints let through but the list rules refuse are a configuration error. */
function fromRows<T>(operation: string, target: string, build: () => T): T {
  try {
    return build();
  } catch (cause) {
    throw new PostgresError(`${operation}: rows rejected on PostgreSQL ${target}: ${describeCause(cause)}`, {
      code: 'THEMIS_PG',
      operation,
      target,
      retriable: false,
      cause,
    });
  }
}

export const DEFAULT_REFRESH_SECS = 60;

export interface RefreshOptions {
  /** Seconds between the end of one load and the start of the next. */
  readonly refreshSecs?: number;
  readonly log: Logger;
  /** Counts failed reloads, e.g. themis_config_reload_failures_total. */
  readonly failures?: MetricCounter;
  readonly nowMs?: () => number;
}

/**
 * A value loaded at start and reloaded on a timer. Reloads never overlap: the next one is
 * scheduled when the previous one ends.
 */
export class Refreshing<T> {
  private data: T;
  private loadedAtMs: number;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<boolean> | null = null;
  private isClosed = false;
  private consecutiveFailures = 0;
  private failedTotal = 0;
  private readonly refreshMs: number;
  private readonly nowMs: () => number;

  private constructor(
    private readonly what: string,
    private readonly load: () => Promise<T>,
    initial: T,
    private readonly opts: RefreshOptions,
  ) {
    this.data = initial;
    this.nowMs = opts.nowMs ?? Date.now;
    this.loadedAtMs = this.nowMs();
    this.refreshMs = (opts.refreshSecs ?? DEFAULT_REFRESH_SECS) * 1000;
  }

  /** Loads once (a failure rejects: start-up must not go on without the data), then keeps reloading. */
  static async start<T>(what: string, load: () => Promise<T>, opts: RefreshOptions): Promise<Refreshing<T>> {
    const refreshSecs = opts.refreshSecs ?? DEFAULT_REFRESH_SECS;
    if (!(refreshSecs > 0 && Number.isFinite(refreshSecs))) {
      throw new PostgresError(`refreshSecs (${refreshSecs}) of ${what} must be a positive number of seconds`, {
        code: 'THEMIS_PG_CONFIG',
        operation: `start ${what}`,
        retriable: false,
      });
    }
    const refreshing = new Refreshing(what, load, await load(), opts);
    refreshing.schedule();
    return refreshing;
  }

  get current(): T {
    return this.data;
  }

  /** Failed reloads since start. */
  get failedReloads(): number {
    return this.failedTotal;
  }

  get lastLoadedAtMs(): number {
    return this.loadedAtMs;
  }

  /** Reloads now, or joins the reload under way; resolves whether new data was swapped in. */
  refreshNow(): Promise<boolean> {
    this.inFlight ??= this.reload().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Stops reloading and waits for a reload under way, so the pool can be closed after. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private schedule(): void {
    if (this.isClosed) return;
    this.timer = setTimeout(() => {
      void this.refreshNow().then(() => this.schedule());
    }, this.refreshMs);
    // Reloading alone must not keep a finished process alive.
    this.timer.unref();
  }

  private async reload(): Promise<boolean> {
    let next: T;
    try {
      next = await this.load();
    } catch (err) {
      this.consecutiveFailures++;
      this.failedTotal++;
      this.opts.failures?.inc();
      this.opts.log.warn(`reload of ${this.what} failed; keeping the data loaded ${new Date(this.loadedAtMs).toISOString()}`, {
        lookup: this.what,
        target: err instanceof PostgresError ? err.target : undefined,
        code: err instanceof PostgresError ? err.code : undefined,
        retriable: err instanceof PostgresError ? err.retriable : undefined,
        error: describeCause(err),
        consecutiveFailures: this.consecutiveFailures,
        failedReloads: this.failedTotal,
      });
      return false;
    }
    if (this.isClosed) return false;
    if (this.consecutiveFailures > 0) {
      this.opts.log.info(`reload of ${this.what} succeeded after ${this.consecutiveFailures} failed attempt(s)`, { lookup: this.what });
    }
    this.consecutiveFailures = 0;
    this.data = next;
    this.loadedAtMs = this.nowMs();
    return true;
  }
}

/** Known host services from PostgreSQL, kept current. */
export class RefreshingServiceLookup implements ServiceLookup {
  private constructor(readonly refresher: Refreshing<ServiceLookup>) {}

  static async start(pool: Pool, opts: RefreshOptions): Promise<RefreshingServiceLookup> {
    return new RefreshingServiceLookup(await Refreshing.start('known host services', () => loadServiceLookup(pool), opts));
  }

  hasService(kind: ServiceKind, host: IpAddress, port: number): boolean {
    return this.refresher.current.hasService(kind, host, port);
  }

  hasHost(kind: ServiceKind, host: IpAddress): boolean {
    return this.refresher.current.hasHost(kind, host);
  }

  close(): Promise<void> {
    return this.refresher.close();
  }
}

/** Suspect-country weightings from PostgreSQL, kept current. */
export class RefreshingCountryLookup implements CountryLookup {
  private constructor(readonly refresher: Refreshing<CountryLookup>) {}

  static async start(pool: Pool, opts: RefreshOptions): Promise<RefreshingCountryLookup> {
    return new RefreshingCountryLookup(await Refreshing.start('suspect countries', () => loadCountryLookup(pool), opts));
  }

  weighting(countryCode: string | null): number {
    return this.refresher.current.weighting(countryCode);
  }

  close(): Promise<void> {
    return this.refresher.close();
  }
}
