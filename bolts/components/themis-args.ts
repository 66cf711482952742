import type { ThemisConfig } from '../themis-config.js';

/**
 * What every Themis component is built from, on whichever worker thread it lands: the validated
 * configuration and where its data and services are. Structured-cloneable, no functions.
 * Credentials arrive here from bin/ (options or environment), never from code.
 */
export interface ThemisArgs {
  readonly config: ThemisConfig;
  /** Absolute directory of the data files named in config.files. */
  readonly dataDir: string;
  /** Embedded default: where the JSON-lines outputs go. Ignored when `kafka` is set. */
  readonly outputDir: string;
  /** The topology's instance name (the 5th argument of `submit`). */
  readonly instance: string;
  readonly services: ThemisServices;
}

export interface ThemisServices {
  /** Outputs to Kafka topics instead of files. */
  readonly kafka?: { readonly brokers: readonly string[]; readonly clientId: string };
  /** IntelMQ intel from Redis instead of `intelmq-events.jsonl`. */
  readonly redis?: { readonly url: string; readonly db: number; readonly cacheTtlMs: number };
  /** Known services and suspect countries from PostgreSQL; optionally scored flows persisted there. */
  readonly postgres?: { readonly url: string; readonly schema?: string; readonly refreshSecs: number; readonly persist: boolean };
}

/** Copies of a flow per scoring branch; the join waits for exactly these. */
export const BRANCH_ALL = 'all';
export const BRANCH_TCP = 'tcp';
export const BRANCH_UDP = 'udp';

/** Tuple fields of the flow streams. */
export const FLOW_FIELDS = ['flowId', 'flow'] as const;
/**
 * A branch stream: the flow (one object shared by the branches: rules never mutate a flow), the
 * branches the join waits for, and the tags this branch has found so far.
 */
export const BRANCH_FIELDS = ['flowId', 'flow', 'expected', 'tags'] as const;
export const IGNORED_FIELDS = ['reason', 'line', 'origin'] as const;
