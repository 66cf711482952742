import type { TopologySpec } from '../spec.js';
import { AllGrouping, FieldsGrouping, GlobalGrouping, localOrShuffleGrouping, ShuffleGrouping, type Grouping } from '../groupings.js';
import { SYSTEM_COMPONENT, TICK_STREAM } from '../contracts.js';

/** Every (component, stream) pair gets a small integer code, identical on every thread. */
export interface StreamInfo {
  readonly component: string;
  readonly stream: string;
  readonly fields: readonly string[];
}

export class StreamTable {
  readonly infos: StreamInfo[] = [];
  private readonly codes = new Map<string, number>();

  constructor(spec: TopologySpec) {
    for (const c of spec.components) {
      for (const [stream, fields] of Object.entries(c.outputs)) this.add(c.id, stream, fields);
    }
    this.add(SYSTEM_COMPONENT, TICK_STREAM, []);
  }

  private add(component: string, stream: string, fields: readonly string[]): number {
    const code = this.infos.length;
    this.infos.push({ component, stream, fields });
    this.codes.set(`${component}\u0000${stream}`, code);
    return code;
  }

  code(component: string, stream: string): number | undefined {
    return this.codes.get(`${component}\u0000${stream}`);
  }
}

/** One subscriber of a stream, with the grouping instance owned by one emitting task. */
export interface Route {
  readonly grouping: Grouping;
  /**
   * The subscriber is a basic bolt wired local-or-shuffle: a basic bolt emitting to it may run it
   * directly, inside its own execute, when the chosen task is on this thread (operator chaining).
   */
  readonly chainable: boolean;
  /** `grouping.fixed`, read without a call through the grouping on the per-tuple path. */
  readonly fixed: readonly number[] | null;
}

/**
 * Builds, for one emitting task, the routes of each of its streams (by stream code). Groupings are
 * per emitting task, so shuffle state is never shared.
 */
export function buildRoutes(
  spec: TopologySpec,
  streams: StreamTable,
  component: string,
  emitterTask: number,
  workerOfTask: (task: number) => number,
  myWorker: number,
): Map<number, Route[]> {
  const routes = new Map<number, Route[]>();
  const source = spec.components.find((c) => c.id === component)!;
  for (const stream of Object.keys(source.outputs)) {
    const code = streams.code(component, stream)!;
    const list: Route[] = [];
    for (const sub of spec.components) {
      for (const input of sub.inputs) {
        if (input.source !== component || input.stream !== stream) continue;
        const targets = spec.tasks.filter((t) => t.component === sub.id).map((t) => t.taskId);
        let grouping: Grouping;
        switch (input.grouping) {
          case 'shuffle':
            grouping = new ShuffleGrouping(targets, emitterTask);
            break;
          case 'localOrShuffle':
            grouping = localOrShuffleGrouping(targets, targets.filter((t) => workerOfTask(t) === myWorker), emitterTask);
            break;
          case 'fields':
          case 'localFields': {
            const fields = source.outputs[stream]!;
            const local = targets.filter((t) => workerOfTask(t) === myWorker);
            const pool = input.grouping === 'localFields' && local.length > 0 ? local : targets;
            grouping = new FieldsGrouping(pool, (input.fields ?? []).map((f) => fields.indexOf(f)));
            break;
          }
          case 'all':
            grouping = new AllGrouping(targets);
            break;
          case 'global':
            grouping = new GlobalGrouping(targets);
            break;
        }
        list.push({ grouping, fixed: grouping.fixed, chainable: input.grouping === 'localOrShuffle' && sub.kind === 'bolt' && sub.ref.basic === true });
      }
    }
    routes.set(code, list);
  }
  return routes;
}
