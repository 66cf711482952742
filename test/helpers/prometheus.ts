import { spawn } from 'node:child_process';

/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a scrape (comment lines skipped). Label values here never hold `"` or `,`. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of m[2] ? m[2].split(',') : []) {
      const [k, v] = pair.split('=') as [string, string];
      labels[k] = v.slice(1, -1);
    }
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return samples;
}

/**
 * What each series gained from scrape `before` to scrape `after`, as `increase()` over the
 * interval: warm-up (the first runs, before the JIT) stays out of quantiles taken of it.
 */
export function increase(after: readonly Sample[], before: readonly Sample[]): Sample[] {
  const key = (s: Sample) => `${s.name}${JSON.stringify(s.labels)}`;
  const earlier = new Map(before.map((s) => [key(s), s.value]));
  return after.map((s) => ({ ...s, value: s.value - (earlier.get(key(s)) ?? 0) }));
}

/** The samples of one metric whose labels include `match`. */
export function select(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/**
 * `histogram_quantile(q, sum by (le) (<histogram>_bucket{match}))` as Prometheus computes it
 * (promql/quantile.go, bucketQuantile): find the bucket holding rank q × count and interpolate
 * linearly inside it; a rank in the +Inf bucket gives the highest finite bound.
 */
export function histogramQuantile(q: number, samples: readonly Sample[], histogram: string, match: Readonly<Record<string, string>> = {}): number {
  const byLe = new Map<number, number>();
  for (const s of select(samples, `${histogram}_bucket`, match)) {
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const last = buckets.length - 1;
  if (last < 1 || buckets[last]!.le !== Infinity) throw new Error(`${histogram}${JSON.stringify(match)}: no +Inf bucket`);
  const total = buckets[last]!.count;
  if (total === 0) return NaN;
  let rank = q * total;
  const b = buckets.findIndex((x) => x.count >= rank);
  if (b === last) return buckets[last - 1]!.le;
  let start = 0;
  let count = buckets[b]!.count;
  if (b > 0) {
    start = buckets[b - 1]!.le;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return start + (buckets[b]!.le - start) * (rank / count);
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

/**
 * What `promtool check metrics` says of a scrape: its lint problems, one a line; '' when there are
 * none. promtool comes with Debian's `prometheus` package, which scripts/test.sh installs.
 */
export function promtoolCheckMetrics(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new Error('promtool not found: install the Debian package prometheus (apt-get install prometheus); npm test installs it', { cause: err }) : err),
    );
    child.on('close', (code) => (code === 0 || out !== '' ? resolve(out.trim()) : reject(new Error(`promtool check metrics exited ${code} and said nothing`))));
    child.stdin.end(text);
  });
}
