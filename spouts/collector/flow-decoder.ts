import { u16 } from './byte-reads.js';
import type { DatagramScope } from './data-sets.js';
import { ExporterState, type ExporterBounds, type ExporterStats } from './exporter-stats.js';
import type { DecodedFlow } from './flow-record.js';
import { decodeIpfix } from './ipfix.js';
import { decodeV5 } from './netflow-v5.js';
import { decodeV9 } from './netflow-v9.js';

export type { DecodedFlow } from './flow-record.js';
export type { ExporterStats } from './exporter-stats.js';

/**
 * NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) datagrams → flows in the input schema.
 * Pure: no socket, no timer; the caller gives each datagram's sender and arrival time, and that
 * clock alone ages templates and held data. One decoder serves every exporter; its state (per
 * exporter: templates, sequence numbers, sampling rates, held data, counters) is bounded by the
 * options below whatever the senders send.
 */
export interface FlowDecoderOptions {
  /** Multiply packets and bytes by the exporter's sampling interval. Default false. */
  scaleBySampling?: boolean;
  /** A template not refreshed for this long is forgotten (RFC 7011 §8.4). Default 1800. */
  templateLifetimeSecs?: number;
  /** Templates and options templates per exporter; past it the oldest goes. Default 1024. */
  maxTemplatesPerExporter?: number;
  /** Data sets held per exporter waiting for their template. Default 64. */
  maxHeldDatagrams?: number;
  /** Octets held per exporter waiting for templates. Default 1 MiB. */
  maxHeldBytesPerExporter?: number;
  /** How long a data set waits for its template before it counts as a template miss. Default 30. */
  holdSecs?: number;
  /** Exporters tracked; past it the one silent longest is forgotten. Default 1024. */
  maxExporters?: number;
  /** Observation domains (source ids, engines) per exporter. Default 256. */
  maxDomainsPerExporter?: number;
}

const DEFAULTS = {
  scaleBySampling: false,
  templateLifetimeSecs: 1800,
  maxTemplatesPerExporter: 1024,
  maxHeldDatagrams: 64,
  maxHeldBytesPerExporter: 1024 * 1024,
  holdSecs: 30,
  maxExporters: 1024,
  maxDomainsPerExporter: 256,
};

export class FlowDecoder {
  private readonly exporters = new Map<string, ExporterState>();
  private readonly bounds: ExporterBounds;
  private readonly isScaled: boolean;
  private readonly maxExporters: number;
  /** The last exporter seen: consecutive datagrams from one sender skip the map. */
  private last: ExporterState | undefined;
  /** Exporters forgotten to stay within maxExporters (their counters went with them). */
  exportersEvicted = 0;

  constructor(options: FlowDecoderOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    this.isScaled = o.scaleBySampling;
    this.maxExporters = Math.max(1, o.maxExporters);
    this.bounds = {
      maxTemplates: Math.max(1, o.maxTemplatesPerExporter),
      templateLifetimeMs: o.templateLifetimeSecs * 1000,
      maxHeldSets: Math.max(0, o.maxHeldDatagrams),
      maxHeldBytes: Math.max(0, o.maxHeldBytesPerExporter),
      holdMs: o.holdSecs * 1000,
      maxDomains: Math.max(1, o.maxDomainsPerExporter),
    };
  }

  /**
   * Decodes one datagram from `exporter` ("addr:port" of the UDP sender). Appends every flow it
   * yields (including flows released from data held until its template arrived) to `out`;
   * returns how many it appended. Never throws on any input: a malformed datagram is counted and
   * dropped, with the valid sets before the bad one kept (their records were read whole).
   */
  decode(datagram: Uint8Array, exporter: string, receivedAtMs: number, out: DecodedFlow[]): number {
    const state = this.exporterState(exporter);
    const before = out.length;
    state.datagrams++;
    state.templateMisses += state.held.expire(receivedAtMs);
    const scope: DatagramScope = { exporter: state, nowMs: receivedAtMs, isScaled: this.isScaled, out };
    const version = datagram.length >= 2 ? u16(datagram, 0) : -1;
    let problem: string | undefined;
    try {
      if (version === 10) {
        state.version = 10;
        problem = decodeIpfix(datagram, scope);
      } else if (version === 9) {
        state.version = 9;
        problem = decodeV9(datagram, scope);
      } else if (version === 5) {
        state.version = 5;
        problem = decodeV5(datagram, scope);
      } else {
        problem = version < 0 ? `datagram of ${datagram.length} octets has no version` : `unknown version ${version}`;
      }
    } catch (error) {
      // A defect of ours, not of the datagram: the promise of never throwing on input holds, and
      // the reason (kept in lastMalformed) names it so that it is seen and fixed.
      out.length = before;
      problem = `decoder error: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (problem !== undefined) state.markMalformed(problem);
    return out.length - before;
  }

  /** Drops held data that has waited too long (counted as template misses); call on a timer. */
  expireHeld(nowMs: number): void {
    for (const state of this.exporters.values()) state.templateMisses += state.held.expire(nowMs);
  }

  /** Drops all held data (at shutdown: released unmatched), counted as template misses. */
  dropHeld(): void {
    for (const state of this.exporters.values()) state.templateMisses += state.held.clear();
  }

  stats(): ExporterStats[] {
    return [...this.exporters.values()].map((state) => state.snapshot());
  }

  private exporterState(exporter: string): ExporterState {
    if (this.last !== undefined && this.last.exporter === exporter) return this.last;
    let state = this.exporters.get(exporter);
    if (state === undefined) {
      if (this.exporters.size >= this.maxExporters) {
        this.exporters.delete(this.exporters.keys().next().value!);
        this.exportersEvicted++;
      }
      state = new ExporterState(exporter, this.bounds);
    } else {
      // Re-inserting keeps the map in order of last datagram: the first key is the silent longest.
      this.exporters.delete(exporter);
    }
    this.exporters.set(exporter, state);
    this.last = state;
    return state;
  }
}
