import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
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
async function openSpout(lines: string[], maxRetries: number, o: { eol?: (i: number) => string; fifo?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'themis-file-spout-'));
  const path = join(dir, 'flows.jsonl');
  const text = lines.map((l, i) => `${l}${o.eol?.(i) ?? '\n'}`).join('');
  if (o.fifo) execFileSync('mkfifo', [path]);
  else writeFileSync(path, text);
  const emitted: Emitted[] = [];
  let exhausted = false;
  const collector: SpoutOutputCollector = {
    emit: (values, msgId, stream) => void emitted.push({ values, msgId, stream: stream ?? 'default' }),
    signalExhausted: () => void (exhausted = true),
    wake: () => undefined,
    reportError: (err) => {
      throw err;
    },
  };
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const context: TopologyContext = { topologyName: 't', componentId: 'spout', taskId: 1, taskIndex: 0, componentTasks: 1, workerIndex: 0, log, counter: () => ({ inc: () => undefined }), histogram: () => ({ observe: () => undefined }), reading: () => undefined, gauge: () => undefined };
  const spout = new FileSpout({ path, maxRetries });
  spout.open(context, collector);
  if (o.fifo) createWriteStream(path).end(text);
  /** Calls nextTuple until it emits (the file is read asynchronously) or the spout is exhausted. */
  const next = async (): Promise<Emitted | null> => {
    for (let i = 0; i < 2000; i++) {
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

  it('replays lines from anywhere in a file of several read chunks exactly, CRLF and multi-byte text included, keeping no line text in flight', async () => {
    // About 3 MB: the file is read in 1 MB chunks, so lines straddle chunk boundaries.
    // Every other line has endpoints, so its replay is checked by its conversation, not its number.
    const lines = Array.from({ length: 12_000 }, (_, i) =>
      i % 2 === 0
        ? `{"n":${i},"city":"${'Zürich-東京-'.repeat(1 + (i % 13))}","pad":"${'x'.repeat(i % 97)}"}`
        : `{"protocol":6,"src_port":${i % 60000},"dst_port":443,"src_ip":"10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}","dst_ip":"192.0.2.1","n":${i}}`,
    );
    const s = await openSpout(lines, 5, { eol: (i) => (i % 3 === 0 ? '\r\n' : '\n') });
    const first: Emitted[] = [];
    for (let i = 0; i < lines.length; i++) first.push((await s.next())!);
    expect(first.map((e) => e.values[0])).toEqual(lines);
    for (const e of first) expect((e.msgId as { line: string | null }).line).toBeNull();
    const failed = first.filter((_, i) => i % 7 === 0 || i === lines.length - 1);
    for (const e of failed) s.spout.fail(e.msgId, 'timeout');
    for (const e of failed) {
      const again = (await s.next())!;
      expect(again.stream).toBe('default');
      expect(again.values).toEqual(e.values);
      expect(again.msgId).toBe(e.msgId);
    }
    s.close();
  });

  it.each([
    ['truncated', () => '{}\n'],
    ['rewritten with another conversation of the same length', (l: string) => `${l.replace('10.0.0.1', '10.0.0.3')}\n`],
  ])('reports a line it cannot read back for a replay (file %s) on the ignored stream, never skipping it', async (_how, rewrite) => {
    const line = '{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":6,"src_port":1,"dst_port":2}';
    const s = await openSpout([line, '{"a":2}'], 5);
    const first = (await s.next())!;
    writeFileSync(s.path, rewrite(line));
    s.spout.fail(first.msgId, 'timeout');
    const reported = (await s.next())!;
    expect(reported.stream).toBe('ignored');
    expect(reported.values[0]).toMatch(/^failed \(last: timeout\); the file no longer holds this line/);
    expect(reported.values[2]).toBe(`${s.path}:1`);
    expect(reported.msgId).toBe(first.msgId);
    s.close();
  });

  it('keeps the text of a line read from a FIFO, which cannot be read again, and replays it', async () => {
    const s = await openSpout(['{"a":1}', '{"a":2}'], 5, { fifo: true });
    const first = (await s.next())!;
    expect((first.msgId as { line: string | null }).line).toBe('{"a":1}');
    s.spout.fail(first.msgId, 'error');
    const again = (await s.next())!;
    expect(again.values).toEqual(first.values);
    s.close();
  });
});
