import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SpoutOutputCollector, TopologyContext } from '../../runtime/index.js';
import { FileSpout } from '../../spouts/file-spout.js';

interface Emitted {
  values: unknown[];
  msgId: unknown;
  stream: string;
}

/** Drives a FileSpout task the way the engine does, without the engine. */
async function openSpout(lines: string[], maxRetries: number) {
  const dir = mkdtempSync(join(tmpdir(), 'themis-file-spout-'));
  const path = join(dir, 'flows.jsonl');
  writeFileSync(path, lines.map((l) => `${l}\n`).join(''));
  const emitted: Emitted[] = [];
  let exhausted = false;
  const collector: SpoutOutputCollector = {
    emit: (values, msgId, stream) => void emitted.push({ values, msgId, stream: stream ?? 'default' }),
    signalExhausted: () => void (exhausted = true),
    reportError: (err) => {
      throw err;
    },
  };
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const context: TopologyContext = { topologyName: 't', componentId: 'spout', taskId: 1, taskIndex: 0, componentTasks: 1, workerIndex: 0, log, counter: () => ({ inc: () => undefined }) };
  const spout = new FileSpout({ path, maxRetries });
  spout.open(context, collector);
  /** Calls nextTuple until it emits (the file is read asynchronously) or the spout is exhausted. */
  const next = async (): Promise<Emitted | null> => {
    for (let i = 0; i < 500; i++) {
      const before = emitted.length;
      spout.nextTuple();
      if (emitted.length > before) return emitted[emitted.length - 1]!;
      if (exhausted) return null;
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('the spout neither emitted nor signalled the end');
  };
  return { spout, next, path, close: () => spout.close() };
}

describe('FileSpout', () => {
  it('emits each line with its origin, replays a failed line as it was, and signals the end', async () => {
    const s = await openSpout(['{"a":1}', '', '{"a":2}'], 3);
    const first = (await s.next())!;
    const second = (await s.next())!;
    expect(first.values.slice(0, 2)).toEqual(['{"a":1}', `${s.path}:1`]);
    // The blank line 2 is skipped; line numbers stay those of the file.
    expect(second.values.slice(0, 2)).toEqual(['{"a":2}', `${s.path}:3`]);
    s.spout.fail(first.msgId, 'timeout');
    const again = (await s.next())!;
    expect(again.stream).toBe('default');
    expect(again.values).toEqual(first.values);
    s.spout.ack(again.msgId);
    s.spout.ack(second.msgId);
    expect(await s.next()).toBeNull();
    s.close();
  });

  it('sends a line that fails maxRetries times to the ignored stream with its last reason, and retries that record if it fails', async () => {
    const s = await openSpout(['{"poison":true}'], 2);
    const first = (await s.next())!;
    s.spout.fail(first.msgId, 'error');
    const retry = (await s.next())!;
    expect(retry.stream).toBe('default');
    s.spout.fail(retry.msgId, 'timeout');
    const poison = (await s.next())!;
    expect(poison.stream).toBe('ignored');
    expect(poison.values).toEqual(['failed 2 times (last: timeout)', '{"poison":true}', `${s.path}:1`]);
    // The ignored record itself could not be written: it is offered again, not dropped.
    s.spout.fail(poison.msgId, 'error');
    const poisonAgain = (await s.next())!;
    expect(poisonAgain.stream).toBe('ignored');
    expect(poisonAgain.values[1]).toBe('{"poison":true}');
    s.spout.ack(poisonAgain.msgId);
    expect(await s.next()).toBeNull();
    s.close();
  });
});
