/**
 * What every kafkajs client of ours (the spout's consumer, the output producer, the admin of
 * create-topics and themis-ingest) shares: the security settings that can cross threads, and how a
 * kafkajs error is read.
 */

/** SASL mechanisms whose options are plain data (OAUTHBEARER needs a function, so it cannot cross threads). */
export interface KafkaSasl {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** TLS settings that are plain data; PEM strings, not file paths. */
export interface KafkaTls {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

/**
 * kafkajs nests the broker's answer: a retry wrapper's `cause`, an aggregate's `errors`. The
 * innermost error is the one that says what went wrong ("Topic name is illegal...").
 */
export function innermostKafkaError(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    const nested = (current as Error & { errors?: unknown[] }).errors?.[0] ?? current.cause;
    if (nested === undefined || nested === current) break;
    current = nested;
  }
  return current;
}

/** The broker's error type (`REBALANCE_IN_PROGRESS`, ...) of a kafkajs error, when it has one. */
export function kafkaErrorType(error: unknown): string | undefined {
  const type = error instanceof Error ? (error as Error & { type?: unknown }).type : undefined;
  return typeof type === 'string' ? type : undefined;
}

/** The innermost kafkajs error, with the broker's error type when there is one. */
export function describeKafkaError(error: unknown): string {
  const inner = innermostKafkaError(error);
  if (!(inner instanceof Error)) return String(inner);
  const type = kafkaErrorType(inner);
  return type === undefined ? inner.message : `${type}: ${inner.message}`;
}

/** kafkajs marks protocol errors that a later attempt cannot fix (a record too large) as not retriable. */
export function isRetriableKafkaError(error: unknown): boolean {
  const inner = innermostKafkaError(error);
  return !(inner instanceof Error && (inner as Error & { retriable?: unknown }).retriable === false);
}
