import type { ComponentSpec, ExecutorSpec, StreamCodecSpec, TaskSpec, TopologyOptions, TopologySpec } from './spec.js';
import { ACKER_COMPONENT } from './spec.js';

/**
 * Places tasks on executors and executors on worker threads (pure).
 *
 * Task ids are global, from 1, contiguous per component. A component's tasks are split into
 * contiguous ranges, one per executor. Executors are dealt round-robin over the worker threads
 * with one running offset, so each component spreads evenly and a chain wired with
 * local-or-shuffle finds a task of its next component on its own thread.
 */
export function place(components: readonly ComponentSpec[], options: TopologyOptions, codecs: readonly StreamCodecSpec[] = []): TopologySpec {
  const all: ComponentSpec[] = [...components];
  if (options.ackers > 0) {
    all.push({
      id: ACKER_COMPONENT,
      kind: 'acker',
      ref: { module: '', export: '' },
      executors: options.ackers,
      tasks: options.ackers,
      inputs: [],
      outputs: {},
    });
  }
  const tasks: TaskSpec[] = [];
  const executors: ExecutorSpec[] = [];
  let nextTask = 1;
  let dealt = 0;
  for (const c of all) {
    const base = Math.floor(c.tasks / c.executors);
    const extra = c.tasks % c.executors;
    let taskIndex = 0;
    for (let e = 0; e < c.executors; e++) {
      const executorId = executors.length;
      const count = base + (e < extra ? 1 : 0);
      const taskIds: number[] = [];
      for (let i = 0; i < count; i++) {
        tasks.push({ taskId: nextTask, component: c.id, taskIndex, executor: executorId });
        taskIds.push(nextTask);
        nextTask++;
        taskIndex++;
      }
      executors.push({ executorId, component: c.id, worker: dealt % options.workers, taskIds });
      dealt++;
    }
  }
  const workerOfTask = new Map<number, number>();
  for (const t of tasks) workerOfTask.set(t.taskId, executors[t.executor]!.worker);
  const ackerTasks = tasks.filter((t) => t.component === ACKER_COMPONENT).map((t) => t.taskId);
  const ackersBySpoutTask: Record<number, number[]> = {};
  for (const t of tasks) {
    const c = all.find((x) => x.id === t.component)!;
    if (c.kind !== 'spout' || ackerTasks.length === 0) continue;
    const local = ackerTasks.filter((a) => workerOfTask.get(a) === workerOfTask.get(t.taskId));
    // An acker on the spout's own thread keeps init and completion messages off the thread hop.
    ackersBySpoutTask[t.taskId] = local.length > 0 ? local : ackerTasks;
  }
  const spoutTaskIds = tasks.filter((t) => all.find((c) => c.id === t.component)!.kind === 'spout').map((t) => t.taskId);
  return { options, codecs, components: all, tasks, executors, ackersBySpoutTask, spoutTaskIds };
}
