import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCHES_IN_FLIGHT } from '../spouts/ingest/ingest.js';
import { parseWholeNumber } from './option-values.js';

/** Kafka's rule for topic names: these characters only, at most 249 of them, and not "." or "..". */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * The brokers of a comma-separated `host:port` list, blanks trimmed and empty entries left out;
 * one problem per bad entry (or for an empty list), naming where the list came from (`source`:
 * an option or an environment variable).
 */
export function parseBrokerList(text: string, source: string, problems: string[]): string[] {
  const brokers = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (brokers.length === 0) problems.push(`${source} is empty; give host:port[,host:port...]`);
  for (const broker of brokers) {
    const port = /^[^\s:]+:(\d{1,5})$/.exec(broker)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65_535) {
      problems.push(`${source} entry "${broker}" must be host:port with a port from 1 to 65535`);
    }
  }
  return brokers;
}

/** Adds a problem when `topic` is not a legal Kafka topic name; `what` names it (`--topic`, `--topics entry`). */
export function checkTopicName(topic: string, what: string, problems: string[]): void {
  if (!LEGAL_TOPIC.test(topic) || topic === '.' || topic === '..') {
    problems.push(`${what} "${topic}" is not a legal Kafka topic name (letters, digits, ".", "_", "-"; at most 249)`);
  }
}

/** `--batch`: messages per sendBatch, 1 to 100,000 (default DEFAULT_BATCH_SIZE). */
export function parseBatchSize(text: string | undefined, problems: string[]): number | undefined {
  const batchSize = text === undefined ? DEFAULT_BATCH_SIZE : parseWholeNumber(text);
  if (batchSize !== undefined && batchSize >= 1 && batchSize <= 100_000) return batchSize;
  problems.push(`--batch (${text}) must be a whole number of messages from 1 to 100000`);
  return undefined;
}

/** `--in-flight`: batches awaiting acknowledgement, 1 to 64 (default DEFAULT_MAX_BATCHES_IN_FLIGHT). */
export function parseBatchesInFlight(text: string | undefined, problems: string[]): number | undefined {
  const inFlight = text === undefined ? DEFAULT_MAX_BATCHES_IN_FLIGHT : parseWholeNumber(text);
  if (inFlight !== undefined && inFlight >= 1 && inFlight <= 64) return inFlight;
  problems.push(`--in-flight (${text}) must be a whole number of batches from 1 to 64`);
  return undefined;
}
