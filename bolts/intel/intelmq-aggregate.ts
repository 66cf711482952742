import { createHash } from 'node:crypto';
import { parseIp } from '../lookup/ip-address.js';
import type { IntelEntry } from '../stores.js';

/**
 * The aggregation of the original IntelMQ output bot (reference §11), as pure functions shared by
 * `themis-intel load` (which applies the result to Redis) and the embedded file store.
 *
 * Layout kept from the original (§10): one hash `intel-mq-<source ip>` per threat source, one field
 * per distinct intel content, the value a JSON object with five keys. The scorer ignores field names.
 *
 * Fixes:
 * - §15 item 51: the field name is `<epoch secs>-<first 8 hex of the value's MD5>`, so two
 *   different events for one IP in the same second no longer overwrite each other; it still starts
 *   with the epoch, so the age test reads fields written by the original bot too.
 * - §15 item 50: the key's expiry is `dataTimeoutSecs` (default 86,400), not a literal 84,600.
 * - §15 item 22: a hash value that is not a JSON object is reported, never thrown.
 *
 * The value is serialised as Python's `json.dumps` does (`", "` and `": "` separators, non-ASCII as
 * `\uXXXX`, accuracy as a float), so for the same event it is byte-identical to what the original
 * bot writes, and each side's dedup recognises the other's entries.
 */

export const DEFAULT_INTEL_DATA_TIMEOUT_SECS = 86_400;

export function intelKey(ipText: string): string {
  return `intel-mq-${ipText}`;
}

/** The stored value; a missing event field is "" as in the original. */
export interface IntelRecord {
  readonly event_description: string;
  readonly feed_provider: string;
  /** IntelMQ's accuracy is a float (0-100); kept as text when the event gave text. */
  readonly feed_accuracy: number | string;
  readonly classification_type: string;
  readonly classification_taxonomy: string;
}

export type IntelEventResult =
  | { readonly kind: 'record'; readonly ip: string; readonly record: IntelRecord }
  | { readonly kind: 'skipped'; readonly reason: string };

/** One line of IntelMQ's file output: blank, not a usable event (with the reason), or the event read. */
export type IntelLineResult =
  | { readonly kind: 'blank' }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'record'; readonly event: object; readonly ip: string; readonly record: IntelRecord };

const BLANK_LINE: IntelLineResult = Object.freeze({ kind: 'blank' });

/** Reads one line of IntelMQ's file output (a trailing CR is dropped), for every reader of such files. */
export function intelRecordFromLine(raw: string): IntelLineResult {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return BLANK_LINE;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch (err) {
    return { kind: 'skipped', reason: `invalid JSON (${(err as Error).message})` };
  }
  const result = intelRecordFromEvent(event);
  return result.kind === 'skipped' ? result : { ...result, event: event as object };
}

/**
 * Reads an IntelMQ event given with flat keys (`"source.ip"`, as IntelMQ serialises events) or as
 * nested objects (`{"source": {"ip": ...}}`), or a mix. Only `source.ip` is indexed, as the
 * original; `ip` is the address as parseIp prints it (an IPv4-mapped IPv6 address as IPv4).
 */
export function intelRecordFromEvent(event: unknown): IntelEventResult {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    return { kind: 'skipped', reason: 'event is not a JSON object' };
  }
  const sourceIp = eventField(event, 'source.ip');
  if (sourceIp === undefined || sourceIp === null || sourceIp === '') return { kind: 'skipped', reason: 'no source.ip' };
  const ip = typeof sourceIp === 'string' ? parseIp(sourceIp) : null;
  if (ip === null) return { kind: 'skipped', reason: `source.ip ${JSON.stringify(sourceIp)} is not an IP address` };
  const accuracy = eventField(event, 'feed.accuracy');
  return {
    kind: 'record',
    ip: ip.text,
    record: {
      event_description: text(eventField(event, 'event_description.text')),
      feed_provider: text(eventField(event, 'feed.provider')),
      feed_accuracy: typeof accuracy === 'number' && Number.isFinite(accuracy) ? accuracy : text(accuracy),
      classification_type: text(eventField(event, 'classification.type')),
      classification_taxonomy: text(eventField(event, 'classification.taxonomy')),
    },
  };
}

export interface IntelHashChange {
  /** Fields to HDEL; never includes the field being set, so the order of the two does not matter. */
  readonly deleteFields: string[];
  /** Field and value to HSET. */
  readonly setField: [string, string];
  /** EXPIRE of the whole key, refreshed on every write. */
  readonly keyTtlSecs: number;
}

/**
 * What one event does to the hash of its IP (`hash` = its current fields, HGETALL):
 * - a field with the same content (same five values) is deleted: the content is re-added with
 *   the fresh time, so a field's time is when that intel was last seen;
 * - a field older than `nowSecs - dataTimeoutSecs` is deleted. A field name that does not start
 *   with an epoch cannot be aged; as neither writer produces one, it is deleted too.
 */
export function applyIntelEvent(
  hash: ReadonlyMap<string, string>,
  record: IntelRecord,
  nowSecs: number,
  dataTimeoutSecs: number = DEFAULT_INTEL_DATA_TIMEOUT_SECS,
): IntelHashChange {
  const value = pythonJson(record);
  const field = `${nowSecs}-${createHash('md5').update(value, 'utf8').digest('hex').slice(0, 8)}`;
  const staleBefore = nowSecs - dataTimeoutSecs;
  const deleteFields: string[] = [];
  for (const [name, old] of hash) {
    if (name === field) continue;
    const epoch = FIELD_EPOCH.exec(name);
    if (epoch === null || Number(epoch[1]) < staleBefore || old === value || sameContent(old, record)) {
      deleteFields.push(name);
    }
  }
  return { deleteFields, setField: [field, value], keyTtlSecs: dataTimeoutSecs };
}

const FIELD_EPOCH = /^(\d+)(?:-|$)/;

/**
 * The entries of one `intel-mq-<ip>` hash, for the scorer. A value that is not valid JSON, or not
 * an object, is reported in `errors` (field name and why) and skipped; the original crashed on it
 * (§15 item 22). A missing or null key reads as null, which the scorer renders as `null`.
 */
export function intelEntriesFromHash(hash: Readonly<Record<string, string>>): { entries: IntelEntry[]; errors: string[] } {
  const entries: IntelEntry[] = [];
  const errors: string[] = [];
  for (const field of Object.keys(hash)) {
    const value = hash[field]!;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      errors.push(`field ${field}: value is not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      errors.push(`field ${field}: value is ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}, not a JSON object`);
      continue;
    }
    const object = parsed as Record<string, unknown>;
    entries.push({
      classificationType: textOrNull(object.classification_type),
      classificationTaxonomy: textOrNull(object.classification_taxonomy),
      feedProvider: textOrNull(object.feed_provider),
    });
  }
  return { entries, errors };
}

/**
 * The embedded store's index: every event applied, in order, to an in-memory hash per IP exactly as
 * the bot applies it to Redis, all stamped `nowSecs` (the load time, as the bot stamps arrival).
 * Events that cannot be indexed are passed to `onSkipped`.
 */
export function buildIntelIndex(
  events: Iterable<unknown>,
  nowSecs: number,
  dataTimeoutSecs: number = DEFAULT_INTEL_DATA_TIMEOUT_SECS,
  onSkipped?: (reason: string) => void,
): Map<string, IntelEntry[]> {
  const hashes = new Map<string, Map<string, string>>();
  for (const event of events) {
    const result = intelRecordFromEvent(event);
    if (result.kind === 'skipped') {
      onSkipped?.(result.reason);
      continue;
    }
    let hash = hashes.get(result.ip);
    if (hash === undefined) hashes.set(result.ip, (hash = new Map()));
    const change = applyIntelEvent(hash, result.record, nowSecs, dataTimeoutSecs);
    for (const name of change.deleteFields) hash.delete(name);
    hash.set(change.setField[0], change.setField[1]);
  }
  const index = new Map<string, IntelEntry[]>();
  // Values here were all written by pythonJson, so there are no errors to report.
  for (const [ip, hash] of hashes) index.set(ip, intelEntriesFromHash(Object.fromEntries(hash)).entries);
  return index;
}

const RECORD_KEYS = ['event_description', 'feed_provider', 'feed_accuracy', 'classification_type', 'classification_taxonomy'] as const;

/** Same five values, whatever the serialisation (another writer's spacing or key order). */
function sameContent(stored: string, record: IntelRecord): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    // Not ours to judge here: an unreadable value is not "the same content"; its age decides.
    return false;
  }
  if (parsed === null || typeof parsed !== 'object') return false;
  const object = parsed as Record<string, unknown>;
  return RECORD_KEYS.every((k) => sameValue(object[k], record[k]));
}

function sameValue(stored: unknown, value: number | string): boolean {
  if (typeof value === 'number') return typeof stored === 'number' ? stored === value : stored === pythonFloat(value);
  return (stored ?? '') === value;
}

function pythonJson(record: IntelRecord): string {
  const accuracy = record.feed_accuracy;
  return (
    `{"event_description": ${pythonString(record.event_description)}, "feed_provider": ${pythonString(record.feed_provider)}` +
    `, "feed_accuracy": ${typeof accuracy === 'number' ? pythonFloat(accuracy) : pythonString(accuracy)}` +
    `, "classification_type": ${pythonString(record.classification_type)}` +
    `, "classification_taxonomy": ${pythonString(record.classification_taxonomy)}}`
  );
}

/** json.dumps(ensure_ascii=True): JSON.stringify's escapes, plus DEL and every non-ASCII code unit as \uXXXX. */
function pythonString(s: string): string {
  return JSON.stringify(s).replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const NON_ASCII = /[\u007f-\uffff]/g;

/** repr() of a float for the accuracy range: a whole number keeps its `.0`. */
function pythonFloat(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

function eventField(event: object, dotted: string): unknown {
  const flat = (event as Record<string, unknown>)[dotted];
  if (flat !== undefined) return flat;
  let node: unknown = event;
  for (const part of dotted.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
  return '';
}

function textOrNull(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
