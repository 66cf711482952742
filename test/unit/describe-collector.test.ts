import { describe, expect, it } from 'vitest';
import type { WorkerMetricsSnapshot } from '../../runtime/index.js';
import { collectorReadings, describeCollector, type CollectorReading } from '../../spouts/collector/collector-metrics.js';
import type { ExporterStats } from '../../spouts/collector/flow-decoder.js';

const exporter = (name: string, version: ExporterStats['version'], over: Partial<ExporterStats> = {}): ExporterStats => ({
  exporter: name,
  version,
  datagrams: 0,
  flows: 0,
  sequenceGaps: 0,
  sequenceMissing: 0,
  templateMisses: 0,
  malformed: 0,
  lastMalformed: '',
  templates: 0,
  templatesEvicted: 0,
  templatesExpired: 0,
  heldRecords: 0,
  skippedRecords: 0,
  ...over,
});

describe('the collector progress text', () => {
  it('gives each exporter its datagrams, flows, sequence gaps, template misses and malformed, then the buffer drops', () => {
    const reading: CollectorReading = {
      exporters: [
        exporter('192.0.2.1:4739', 10, { datagrams: 1200, flows: 36000, sequenceGaps: 2, templateMisses: 1, malformed: 3 }),
        exporter('[2001:db8::1]:2055', 5, { datagrams: 4, flows: 120 }),
      ],
      droppedDatagrams: 17,
      bufferedDatagrams: 3,
    };
    expect(describeCollector(reading)).toBe(
      '192.0.2.1:4739 v10: 1,200 datagrams, 36,000 flows, 2 sequence gaps, 1 template misses, 3 malformed; ' +
        '[2001:db8::1]:2055 v5: 4 datagrams, 120 flows, 0 sequence gaps, 0 template misses, 0 malformed; buffer drops 17',
    );
    expect(describeCollector({ exporters: [], droppedDatagrams: 0, bufferedDatagrams: 0 })).toBe('no exporter yet; buffer drops 0');
  });

  it('reads the collector reading of the tasks that publish one from the worker reports', () => {
    const reading: CollectorReading = { exporters: [exporter('192.0.2.1:2055', 9, { flows: 5 })], droppedDatagrams: 1, bufferedDatagrams: 0 };
    const task = (readings?: Record<string, unknown>) => ({ component: 'flow-spout', task: 1, custom: {}, customHistograms: {}, ...(readings ? { readings } : {}) });
    const snapshots = [{ tasks: [task(), task({ collector: reading })] }, undefined] as unknown as WorkerMetricsSnapshot[];
    expect(collectorReadings(snapshots)).toEqual([reading]);
  });
});
