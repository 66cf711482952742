/** The topology engine's front door: builder, component contracts, groupings and metrics. */
export { TopologyBuilder, BoltDeclarer, SpoutDeclarer, DEFAULT_OPTIONS } from './builder.js';
export type {
  Bolt,
  BasicBolt,
  BasicOutputCollector,
  ComponentRef,
  FailCause,
  FailReason,
  GaugeSample,
  Logger,
  MetricCounter,
  MetricHistogram,
  OutputCollector,
  OutputFields,
  Spout,
  SpoutOutputCollector,
  StreamCodec,
  TopologyContext,
  Tuple,
} from './contracts.js';
export { basicBolt, DEFAULT_STREAM, SYSTEM_COMPONENT, TICK_STREAM } from './contracts.js';
export { moduleRef } from './component-loader.js';
export { RunningTopology, type TopologyStatus, type ShutdownOptions } from './topology-runner.js';
export { registerTopologyMetrics, serveMetrics, componentTotal, componentHistogram } from './metrics.js';
export type { TaskCounters, TaskMetrics, WorkerMetricsSnapshot } from './metrics-snapshot.js';
export { LivePage, type LivePageOptions } from './live-page.js';
export { TopologyStatusTracker, type TopologyStatusView } from './topology-status.js';
export { LATENCY_BUCKETS_SECONDS, type HistogramSnapshot } from './latency-histogram.js';
export type { TopologySpec, TopologyOptions, GroupingType } from './spec.js';
export { TopologyValidationError, RuntimeError, ComponentError } from './errors.js';
