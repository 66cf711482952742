import { readFile } from 'node:fs/promises';
import type { Logger, MetricCounter } from '../../runtime/index.js';
import { parseIp } from '../lookup/ip-address.js';
import type { IntelEntry, IntelLookup } from '../stores.js';
import { describeCause, IntelError } from './errors.js';
import { buildIntelIndex, DEFAULT_INTEL_DATA_TIMEOUT_SECS, intelRecordFromLine } from './intelmq-aggregate.js';

/**
 * The embedded default intel store: IntelMQ's file output (one JSON event per line) aggregated at
 * load time exactly as the original bot aggregates into Redis (reference §11, via buildIntelIndex),
 * then answered from memory, so the scoring bolt needs no asynchronous step.
 *
 * A line that is not JSON, or an event the bot would skip (no `source.ip`), is logged with its
 * line number (the first `reportLines`, then a total) and counted; the load goes on.
 */

/**
 * The text under which intel for an address is stored: IPv4 dotted quad, IPv6 in RFC 5952 form
 * (lower case, longest run of two or more zero groups as `::`) — what IntelMQ (Python `ipaddress`)
 * writes, so `2001:DB8:0::1` and `2001:db8::1` find the same entry. parseIp keeps an IPv6 address's
 * text as given, so the form is rebuilt from its bytes. Null when `text` is not an IP address.
 */
export function canonicalIpText(text: string): string | null {
  // parseIp gives one spelling per address: the dotted quad, or RFC 5952 text for IPv6.
  return parseIp(text)?.text ?? null;
}

export interface FileIntelLoadOptions {
  /** Arrival time stamped on every entry, as the bot stamps events (epoch seconds). */
  readonly nowSecs: number;
  readonly dataTimeoutSecs?: number;
  readonly log: Logger;
  /** Counts every skipped line. */
  readonly badLines?: MetricCounter;
  /** Skipped lines logged one by one; the rest are only counted. Default 20. */
  readonly reportLines?: number;
}

export interface FileIntelStats {
  /** Lines read, blank ones included. */
  readonly lines: number;
  readonly events: number;
  readonly skipped: number;
  readonly ips: number;
}

export const DEFAULT_REPORT_LINES = 20;

export class FileIntelLookup implements IntelLookup {
  private readonly index: ReadonlyMap<string, readonly IntelEntry[]>;
  readonly stats: FileIntelStats;

  private constructor(index: ReadonlyMap<string, readonly IntelEntry[]>, stats: FileIntelStats) {
    this.index = index;
    this.stats = stats;
  }

  static async load(path: string, options: FileIntelLoadOptions): Promise<FileIntelLookup> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new IntelError(`cannot read intel file ${path}: ${describeCause(cause)}`, {
        code: 'THEMIS_INTEL_FILE',
        operation: 'read intel file',
        file: path,
        retriable: false,
        cause,
      });
    }
    return FileIntelLookup.fromText(text, path, options);
  }

  /** `source` names the input in log lines (a path). */
  static fromText(text: string, source: string, options: FileIntelLoadOptions): FileIntelLookup {
    const reportLines = options.reportLines ?? DEFAULT_REPORT_LINES;
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let lineNumber = 0;
    let events = 0;
    let skipped = 0;
    const skip = (reason: string) => {
      skipped++;
      options.badLines?.inc();
      if (skipped <= reportLines) options.log.warn('intel line skipped', { file: source, line: lineNumber, reason });
    };

    // buildIntelIndex keys by the event's own spelling of source.ip; each event is handed over with
    // the canonical spelling in the flat key (which takes precedence over a nested `source`).
    function* canonicalEvents(): Generator<unknown> {
      for (const raw of lines) {
        lineNumber++;
        const result = intelRecordFromLine(raw);
        if (result.kind === 'blank') continue;
        if (result.kind === 'skipped') {
          skip(result.reason);
          continue;
        }
        events++;
        yield { ...result.event, 'source.ip': canonicalIpText(result.ip) };
      }
    }

    const index = buildIntelIndex(canonicalEvents(), options.nowSecs, options.dataTimeoutSecs ?? DEFAULT_INTEL_DATA_TIMEOUT_SECS, skip);
    // Callers receive the stored arrays; freezing them keeps one caller from changing another's answer.
    for (const entries of index.values()) Object.freeze(entries);
    const stats: FileIntelStats = { lines: lineNumber, events, skipped, ips: index.size };
    if (skipped > reportLines) {
      options.log.warn('intel lines skipped beyond those reported', { file: source, skipped, reported: reportLines });
    }
    options.log.info('intel file loaded', { file: source, ...stats });
    return new FileIntelLookup(index, stats);
  }

  /** Undefined when the address has no intel (or is not an address). */
  lookupSync(ip: string): readonly IntelEntry[] | undefined {
    // Every key is canonical, and a dotted quad parseIp accepts is canonical too, so only IPv6 text
    // that misses needs rebuilding.
    const hit = this.index.get(ip);
    if (hit !== undefined || !ip.includes(':')) return hit;
    const canonical = canonicalIpText(ip);
    return canonical === null ? undefined : this.index.get(canonical);
  }

  /** Keyed by the texts asked for; an address without intel maps to an empty list. */
  async lookupMany(ips: readonly string[]): Promise<Map<string, IntelEntry[]>> {
    const answer = new Map<string, IntelEntry[]>();
    for (const ip of ips) answer.set(ip, (this.lookupSync(ip) ?? NO_ENTRIES) as IntelEntry[]);
    return answer;
  }
}

const NO_ENTRIES: readonly IntelEntry[] = Object.freeze([]);
