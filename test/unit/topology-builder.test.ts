import { describe, expect, it } from 'vitest';
import { basicBolt, TopologyBuilder, TopologyValidationError } from '../../runtime/index.js';
import { fixture } from '../helpers/runtime-harness.js';

async function problemsOf(b: TopologyBuilder, opts: Record<string, unknown> = {}): Promise<readonly string[]> {
  try {
    await b.build({ name: 'test', workers: 2, ...opts });
  } catch (err) {
    if (err instanceof TopologyValidationError) return err.problems;
    throw err;
  }
  return [];
}

describe('topology validation at submit time', () => {
  it('refuses unknown components, undeclared streams and undeclared fields, all at once', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel: 'x', count: 1 }));
    b.setBolt('a', basicBolt(fixture('PassBolt'))).shuffleGrouping('nope');
    b.setBolt('b', basicBolt(fixture('PassBolt'))).shuffleGrouping('spout', 'missing-stream');
    b.setBolt('c', basicBolt(fixture('PassBolt'))).fieldsGrouping('spout', ['flowId']);
    const problems = await problemsOf(b);
    expect(problems).toEqual([
      'bolt "a" subscribes to unknown component "nope"',
      'bolt "b" subscribes to undeclared stream "missing-stream" of "spout" (declared: "default")',
      'bolt "c": fields grouping on undeclared field "flowId" of "spout"/"default" (fields: id, attempt, key)',
    ]);
  });

  it('refuses a cycle and names it', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel: 'x', count: 1 }));
    b.setBolt('a', basicBolt(fixture('PassBolt'))).shuffleGrouping('spout').shuffleGrouping('c');
    b.setBolt('b', basicBolt(fixture('PassBolt'))).shuffleGrouping('a');
    b.setBolt('c', basicBolt(fixture('PassBolt'))).shuffleGrouping('b');
    expect(await problemsOf(b)).toEqual(['cycle: a -> b -> c -> a']);
  });

  it('refuses duplicate ids, bad parallelism, unloadable modules and bad options', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel: 'x', count: 1 }));
    b.setBolt('a', basicBolt(fixture('PassBolt')), 0).shuffleGrouping('spout');
    b.setBolt('a', basicBolt(fixture('PassBolt')), 3).setNumTasks(2).shuffleGrouping('spout');
    b.setBolt('ghost', fixture('NoSuchExport')).shuffleGrouping('spout');
    const problems = await problemsOf(b, { workers: 0, messageTimeoutSecs: 0 });
    expect(problems).toContain('workers (0) must be an integer >= 1');
    expect(problems).toContain('messageTimeoutSecs (0) must be > 0');
    expect(problems).toContain('duplicate component id "a"');
    expect(problems).toContain('component "a": executors (0) must be an integer >= 1');
    expect(problems).toContain('component "a": tasks (2) must be >= executors (3); an executor runs one or more tasks');
    expect(problems.some((p) => p.startsWith('component "ghost": cannot load NoSuchExport'))).toBe(true);
  });

  it('places tasks over executors and executors over threads evenly', async () => {
    const b = new TopologyBuilder();
    b.setSpout('spout', fixture('SeqSpout', { channel: 'x', count: 1 }), 2);
    b.setBolt('a', basicBolt(fixture('PassBolt')), 2).setNumTasks(5).localOrShuffleGrouping('spout');
    const spec = await b.build({ name: 'test', workers: 2, ackers: 2 });
    const aExecutors = spec.executors.filter((e) => e.component === 'a');
    expect(aExecutors.map((e) => e.taskIds.length)).toEqual([3, 2]);
    expect(aExecutors.map((e) => e.worker).sort()).toEqual([0, 1]);
    // Each spout task is mapped to the acker on its own thread.
    for (const t of spec.tasks.filter((x) => x.component === 'spout')) {
      const w = spec.executors[t.executor]!.worker;
      const ackers = spec.ackersBySpoutTask[t.taskId]!;
      expect(ackers.map((a) => spec.executors[spec.tasks.find((x) => x.taskId === a)!.executor]!.worker)).toEqual([w]);
    }
  });
});
