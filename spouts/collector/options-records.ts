import { fieldSize, readUint } from './byte-reads.js';
import * as F from './field-map.js';
import type { DomainState } from './exporter-stats.js';
import type { Template } from './templates.js';

/**
 * Reads the records of an options data set for what the decoder needs from them: the sampling
 * rate and the IPFIX exporter's systemInitTimeMilliseconds. The rate is
 * - samplingInterval (34) or samplerRandomInterval (50): 1 out of N packets, N as given;
 * - samplingPacketInterval (305) and samplingPacketSpace (306): (interval + space) / interval;
 * - samplingSize (309) and samplingPopulation (310): population / size;
 * rounded to a whole number, and kept per domain: the scope (a sampler id, an interface) is not
 * told apart, so an exporter running several samplers at different rates gets the last one read.
 * A rate of 0 means "not sampled" and is read as 1.
 *
 * Returns the records read, or -1 when one runs past the set.
 */
export function decodeOptionRecords(b: Uint8Array, start: number, end: number, t: Template, domain: DomainState): number {
  const plan = t.plan;
  const minLength = t.minRecordLength;
  if (minLength === 0) return 0;
  let p = start;
  let records = 0;
  while (end - p >= minLength) {
    let interval = -1;
    let packetInterval = -1;
    let packetSpace = 0;
    let sampleSize = -1;
    let population = -1;
    let systemInit = -1;
    for (let i = 0; i < plan.length; i += 2) {
      const size = fieldSize(b, p, end, plan[i + 1]!);
      if (size < 0) return -1;
      const length = size >>> 2;
      p += size & 3;
      const handler = plan[i];
      if (handler !== F.H_SKIP) {
        const value = readUint(b, p, length);
        if (handler === F.H_SAMPLING_INTERVAL) interval = value;
        else if (handler === F.H_SAMPLING_PACKET_INTERVAL) packetInterval = value;
        else if (handler === F.H_SAMPLING_PACKET_SPACE) packetSpace = value;
        else if (handler === F.H_SAMPLING_SIZE) sampleSize = value;
        else if (handler === F.H_SAMPLING_POPULATION) population = value;
        else if (handler === F.H_SYSTEM_INIT_MS) systemInit = value;
      }
      p += length;
    }
    records++;
    let rate = -1;
    if (interval >= 0) rate = interval;
    else if (packetInterval > 0) rate = (packetInterval + packetSpace) / packetInterval;
    else if (sampleSize > 0 && population > 0) rate = population / sampleSize;
    if (rate >= 0) domain.samplingInterval = Math.max(1, Math.round(rate));
    if (systemInit >= 0) domain.systemInitMs = systemInit;
  }
  return records;
}
