import { MATCH_FLOWS, SPOUT, themisComponentIds, type Parallelism } from './themis-topology.js';

/**
 * The five positional arguments of `themis-topology submit`, as the original's main() read them
 * (reference §2.2), validated with messages that name the argument (§15 item 34).
 */
export interface SubmitArguments {
  readonly executors: number;
  readonly tasks: number;
  readonly maxPending: number;
  readonly extraMatch: number;
  readonly name: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function parseSubmitArguments(raw: readonly string[]): { value: SubmitArguments } | { errors: string[] } {
  const errors: string[] = [];
  const int = (label: string, text: string | undefined, min: number, max: number): number => {
    if (text === undefined || !/^-?\d+$/.test(text.trim())) {
      errors.push(`<${label}> must be an integer ${min}-${max}, got ${JSON.stringify(text ?? '')}`);
      return NaN;
    }
    const n = Number(text);
    if (n < min || n > max) errors.push(`<${label}> must be an integer ${min}-${max}, got ${n}`);
    return n;
  };
  const executors = int('executors', raw[0], 1, 256);
  const tasks = int('tasks', raw[1], 1, 1024);
  const maxPending = int('maxPending', raw[2], 1, 10_000_000);
  const extraMatch = int('extraMatch', raw[3], 0, 256);
  const name = raw[4] ?? '';
  if (!NAME.test(name)) errors.push(`<name> must be 1-63 letters, digits, ".", "_" or "-" starting with a letter or digit, got ${JSON.stringify(name)}`);
  if (Number.isInteger(executors) && Number.isInteger(tasks) && tasks < executors) {
    errors.push(`<tasks> (${tasks}) must be >= <executors> (${executors}): each executor runs one or more tasks`);
  }
  return errors.length > 0 ? { errors } : { value: { executors, tasks, maxPending, extraMatch, name } };
}

/**
 * A `--parallelism` file: `{ "<component id>": { "executors": n, "tasks": m } }`, overriding the
 * five arguments for this deployment. Unknown ids and bad numbers are reported all at once.
 */
export function parseParallelismFile(json: unknown, file: string): { value: Record<string, Parallelism> } | { errors: string[] } {
  const errors: string[] = [];
  const out: Record<string, Parallelism> = {};
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { errors: [`${file}: must be a JSON object of component id -> { executors, tasks }`] };
  const ids = new Set(themisComponentIds());
  for (const [id, v] of Object.entries(json as Record<string, unknown>)) {
    if (!ids.has(id)) {
      errors.push(`${file}: unknown component "${id}" (components: ${[...ids].join(', ')})`);
      continue;
    }
    const o = v as Record<string, unknown>;
    const e = o?.['executors'];
    const t = o?.['tasks'] ?? e;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 1) errors.push(`${file}: ${id}.executors (${JSON.stringify(e)}) must be an integer >= 1`);
    else if (typeof t !== 'number' || !Number.isInteger(t) || t < e) errors.push(`${file}: ${id}.tasks (${JSON.stringify(t)}) must be an integer >= executors (${e})`);
    else out[id] = { executors: e, tasks: t };
    for (const key of Object.keys(o ?? {})) if (key !== 'executors' && key !== 'tasks') errors.push(`${file}: ${id}.${key} is not a setting (use executors, tasks)`);
  }
  return errors.length > 0 ? { errors } : { value: out };
}

/**
 * Parallelism per component: every bolt gets <executors>/<tasks>, match-flows gets
 * <executors>+<extraMatch> / <tasks>+<extraMatch> (reference §2.2, §3.2); the spout's default is
 * given by the caller (one reader for a file); overrides win.
 */
export function deploymentParallelism(
  submit: SubmitArguments,
  spoutDefault: Parallelism,
  overrides: Readonly<Record<string, Parallelism>> = {},
): (componentId: string) => Parallelism {
  return (id) => {
    const o = overrides[id];
    if (o) return o;
    if (id === SPOUT) return spoutDefault;
    if (id === MATCH_FLOWS) return { executors: submit.executors + submit.extraMatch, tasks: submit.tasks + submit.extraMatch };
    return { executors: submit.executors, tasks: submit.tasks };
  };
}
