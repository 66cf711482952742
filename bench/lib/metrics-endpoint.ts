/**
 * Reading a running `themis-topology` from the outside, as an operator's Prometheus does: the
 * endpoint's address from the line the CLI prints, and sums of its series by name and labels.
 * Used by bench/soak.ts and the stream tests, which run the topology as a child process.
 */

/** One line of the Prometheus text format: `name{label="value",...} number`. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a text exposition; comments (`# HELP`, `# TYPE`) and blank lines are skipped. */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include `labels` (0 when there is none). */
export function sumOf(samples: readonly MetricSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Fetches and parses `url` (the topology's /metrics); fails naming the address and the status. */
export async function scrapeMetrics(url: string): Promise<MetricSample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return parsePrometheusText(await res.text());
}

/** The endpoint address in what `themis-topology submit` printed (`themis: metrics on http://…/metrics`); null before that line. */
export function metricsUrlIn(stderr: string): string | null {
  return /themis: metrics on (http:\/\/\S+\/metrics)/.exec(stderr)?.[1] ?? null;
}

/**
 * Kafka spout tasks that have printed that the whole group is assembled and they emit: until every
 * task has, none reads, so a test or benchmark offering flows at a rate waits for them all.
 */
export function emittingSpoutTasks(stderr: string): number {
  return stderr.split('every spout task is in the group; emitting').length - 1;
}

/** The spout's figures of the roots it emitted, summed over its tasks. */
export interface SpoutRoots {
  /** Roots whose tuple tree completed. */
  readonly acked: number;
  /** Roots failed for replay, timeouts included. */
  readonly failed: number;
  readonly timedOut: number;
  /** Roots held by a bolt (flow matching), outside max pending and the timeout. */
  readonly parked: number;
}

export function spoutRoots(samples: readonly MetricSample[], spoutComponent: string): SpoutRoots {
  const of = (name: string) => sumOf(samples, name, { component: spoutComponent });
  return {
    acked: of('themis_acked_tuples_total'),
    failed: of('themis_failed_tuples_total'),
    timedOut: of('themis_timed_out_tuples_total'),
    parked: of('themis_spout_parked_roots'),
  };
}
