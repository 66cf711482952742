import type { IpAddress } from './lookup/ip-address.js';

/**
 * The narrow interfaces behind which configuration and threat intel live. The embedded default
 * implements them over files in the data directory; production mode over PostgreSQL and Redis.
 * Scoring bolts see only these.
 */

export type ServiceKind = 'TCP_HOSTED' | 'TCP_REMOTE' | 'UDP_HOSTED' | 'UDP_REMOTE';

export interface ServiceLookup {
  /** Is (host, port) configured as a service of this kind? Hosts may be configured as CIDR networks. */
  hasService(kind: ServiceKind, host: IpAddress, port: number): boolean;
  /** Is the host configured with any port of this kind? (negative scoring, reference §5.16) */
  hasHost(kind: ServiceKind, host: IpAddress): boolean;
}

export interface CountryLookup {
  /** Weighting of a suspect country code, 0 when absent or null. */
  weighting(countryCode: string | null): number;
}

/** One IntelMQ entry as the original bot stored it in `intel-mq-<ip>` (reference §10-11). */
export interface IntelEntry {
  readonly classificationType: string | null;
  readonly classificationTaxonomy: string | null;
  readonly feedProvider: string | null;
}

export interface IntelLookup {
  /** Intel entries per IP text, for a batch of IPs at once (one pipelined round trip in Redis). */
  lookupMany(ips: readonly string[]): Promise<Map<string, IntelEntry[]>>;
  /** In-memory stores answer at once; the bolt then needs no asynchronous step. */
  lookupSync?(ip: string): readonly IntelEntry[] | undefined;
  close?(): Promise<void>;
}
