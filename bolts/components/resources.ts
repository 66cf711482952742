import { AlertWriter } from '../postgres/alert-writer.js';
import { join } from 'node:path';
import type { Logger } from '../../runtime/index.js';
import { loadAsnListFile, loadPortListFile, loadProtocolListFile } from '../lists/integer-list.js';
import { loadKnownHostServicesFile } from '../lists/known-host-services.js';
import { loadSuspectCountriesFile } from '../lists/suspect-countries.js';
import { MmdbReader } from '../lookup/mmdb-reader.js';
import { FileIntelLookup } from '../intel/file-intel-lookup.js';
import { RedisIntelLookup } from '../intel/redis-intel-lookup.js';
import { createPool } from '../postgres/pool.js';
import { RefreshingCountryLookup, RefreshingServiceLookup } from '../postgres/pg-lookups.js';
import { ScoredFlowWriter } from '../postgres/scored-flow-writer.js';
import type { CountryLookup, IntelLookup, ServiceLookup } from '../stores.js';
import { FileSink } from '../output/file-sink.js';
import { KafkaSink } from '../output/kafka-sink.js';
import type { RecordSink } from '../output/record-sink.js';
import type { ThemisArgs } from './themis-args.js';

/**
 * Data files, stores and sinks, loaded once per worker thread and shared by every task on it
 * (the original loaded them per bolt instance or per JVM). Each is created on first use, so a
 * thread only opens what its components need.
 */
const cache = new Map<string, Promise<unknown>>();
let users = 0;

function shared<T>(key: string, make: () => Promise<T>): Promise<T> {
  let p = cache.get(key) as Promise<T> | undefined;
  if (!p) {
    p = make();
    cache.set(key, p);
  }
  return p;
}

export class Resources {
  private released = false;

  constructor(
    private readonly args: ThemisArgs,
    private readonly log: Logger,
  ) {
    users++;
  }

  /**
   * Each task releases its handle in cleanup; the last one on the thread closes what was opened
   * (sinks flush, clients disconnect, refresh timers stop).
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (--users > 0) return;
    const opened = [...cache.values()];
    cache.clear();
    for (const p of opened) {
      const r = (await p.catch(() => null)) as { close?: () => unknown } | null;
      try {
        await r?.close?.();
      } catch (err) {
        this.log.error('closing a shared resource failed', { error: String(err) });
      }
    }
  }

  private file(name: string): string {
    return join(this.args.dataDir, name);
  }

  mmdb(fileName: string): Promise<MmdbReader> {
    const path = this.file(fileName);
    return shared(`mmdb:${path}`, async () => MmdbReader.open(path));
  }
  localAsns(): Promise<ReadonlySet<number>> {
    const path = this.file(this.args.config.files.asns);
    return shared(`asn:${path}`, () => loadAsnListFile(path));
  }
  validProtocols(): Promise<ReadonlySet<number>> {
    const path = this.file(this.args.config.files.validProtocols);
    return shared(`proto:${path}`, () => loadProtocolListFile(path));
  }
  ports(fileName: string): Promise<ReadonlySet<number>> {
    const path = this.file(fileName);
    return shared(`ports:${path}`, () => loadPortListFile(path));
  }

  services(): Promise<ServiceLookup> {
    const pg = this.args.services.postgres;
    if (pg) {
      return shared(`pg-services:${pg.url}:${pg.schema ?? ''}`, async () =>
        RefreshingServiceLookup.start(await this.pgPool(), { refreshSecs: pg.refreshSecs, log: this.log }),
      );
    }
    const path = this.file(this.args.config.files.knownHostServices);
    return shared(`services:${path}`, () => loadKnownHostServicesFile(path));
  }

  countries(): Promise<CountryLookup> {
    const pg = this.args.services.postgres;
    if (pg) {
      return shared(`pg-countries:${pg.url}:${pg.schema ?? ''}`, async () =>
        RefreshingCountryLookup.start(await this.pgPool(), { refreshSecs: pg.refreshSecs, log: this.log }),
      );
    }
    const path = this.file(this.args.config.files.suspectCountries);
    return shared(`countries:${path}`, () => loadSuspectCountriesFile(path));
  }

  intel(): Promise<IntelLookup> {
    const redis = this.args.services.redis;
    if (redis) {
      return shared(`redis-intel:${redis.url}:${redis.db}`, async () =>
        new RedisIntelLookup(redis.url, { db: redis.db, keyPrefix: this.args.config.redis.intelKeyPrefix, cacheTtlMs: redis.cacheTtlMs, log: this.log }),
      );
    }
    const path = this.file('intelmq-events.jsonl');
    return shared(`file-intel:${path}`, () => FileIntelLookup.load(path, { nowSecs: Math.floor(Date.now() / 1000), log: this.log }));
  }

  sink(): Promise<RecordSink> {
    const kafka = this.args.services.kafka;
    if (kafka) return shared(`kafka-sink:${kafka.brokers.join(',')}`, async () => new KafkaSink({ brokers: [...kafka.brokers], clientId: kafka.clientId }));
    const dir = this.args.outputDir;
    return shared(`file-sink:${dir}`, async () => new FileSink(dir));
  }

  scoredFlowWriter(): Promise<ScoredFlowWriter | null> {
    const pg = this.args.services.postgres;
    if (!pg?.persist) return Promise.resolve(null);
    return shared(`pg-writer:${pg.url}:${pg.schema ?? ''}`, async () => new ScoredFlowWriter(await this.pgPool()));
  }

  alertWriter(): Promise<AlertWriter | null> {
    const pg = this.args.services.postgres;
    if (!pg?.persist) return Promise.resolve(null);
    return shared(`pg-alert-writer:${pg.url}:${pg.schema ?? ''}`, async () => new AlertWriter(await this.pgPool()));
  }

  private pgPool() {
    const pg = this.args.services.postgres!;
    return shared(`pg-pool:${pg.url}:${pg.schema ?? ''}`, async () => createPool(pg.url, { schema: pg.schema, log: this.log }));
  }
}
