import { describe, expect, it } from 'vitest';
import {
  applyIntelEvent,
  buildIntelIndex,
  intelEntriesFromHash,
  intelKey,
  intelRecordFromEvent,
  intelRecordFromLine,
  type IntelRecord,
} from '../../bolts/intel/intelmq-aggregate.js';

// Reference §11 (IntelMQ output bot) and §10 (Redis DB 14 layout), with §15 items 22, 50, 51 fixed.

const NOW = 1_700_000_000;

const malwareEvent = {
  'source.ip': '203.0.113.5',
  'classification.type': 'malware',
  'classification.taxonomy': 'malicious code',
  'feed.provider': 'Spamhaus',
  'feed.accuracy': 100,
  'event_description.text': 'botnet C&C',
};

function record(event: unknown): IntelRecord {
  const result = intelRecordFromEvent(event);
  if (result.kind !== 'record') throw new Error(result.reason);
  return result.record;
}

/** The value the original bot writes for malwareEvent: Python json.dumps of the record (§11 step 3). */
const MALWARE_VALUE =
  '{"event_description": "botnet C&C", "feed_provider": "Spamhaus", "feed_accuracy": 100.0, ' +
  '"classification_type": "malware", "classification_taxonomy": "malicious code"}';

describe('intelRecordFromEvent', () => {
  it('maps an event with flat keys to the stored record', () => {
    expect(intelRecordFromEvent(malwareEvent)).toEqual({
      kind: 'record',
      ip: '203.0.113.5',
      record: {
        event_description: 'botnet C&C',
        feed_provider: 'Spamhaus',
        feed_accuracy: 100,
        classification_type: 'malware',
        classification_taxonomy: 'malicious code',
      },
    });
  });

  it('reads nested objects the same way, and missing fields as empty strings', () => {
    expect(intelRecordFromEvent({ source: { ip: '2001:db8::5' }, classification: { type: 'scanner' } })).toEqual({
      kind: 'record',
      ip: '2001:db8::5',
      record: { event_description: '', feed_provider: '', feed_accuracy: '', classification_type: 'scanner', classification_taxonomy: '' },
    });
  });

  it('gives a reason for an event without a usable source.ip', () => {
    expect(intelRecordFromEvent({ 'destination.ip': '203.0.113.5' })).toEqual({ kind: 'skipped', reason: 'no source.ip' });
    expect(intelRecordFromEvent({ 'source.ip': 'evil.example' })).toEqual({
      kind: 'skipped',
      reason: 'source.ip "evil.example" is not an IP address',
    });
    expect(intelRecordFromEvent([1])).toEqual({ kind: 'skipped', reason: 'event is not a JSON object' });
  });
});

describe('applyIntelEvent', () => {
  it('adds a field named by the time and content, expiring the key after dataTimeoutSecs', () => {
    const change = applyIntelEvent(new Map(), record(malwareEvent), NOW, 3_600);
    expect(change.deleteFields).toEqual([]);
    expect(change.setField[0]).toMatch(new RegExp(`^${NOW}-[0-9a-f]{8}$`));
    expect(change.setField[1]).toBe(MALWARE_VALUE);
    expect(change.keyTtlSecs).toBe(3_600);
    expect(applyIntelEvent(new Map(), record(malwareEvent), NOW).keyTtlSecs).toBe(86_400);
    expect(intelKey('203.0.113.5')).toBe('intel-mq-203.0.113.5');
  });

  it('re-stamps the same content: the older field is deleted and the content set with the new time', () => {
    const hash = new Map([
      ['1699990000-0123abcd', MALWARE_VALUE],
      // Written by the original bot: field name = epoch only; same content, other spacing.
      ['1699995000', JSON.stringify(JSON.parse(MALWARE_VALUE))],
      ['1699999000-89abcdef', MALWARE_VALUE.replace('malware', 'spam')],
    ]);
    const change = applyIntelEvent(hash, record(malwareEvent), NOW);
    expect(change.deleteFields).toEqual(['1699990000-0123abcd', '1699995000']);
    expect(change.setField[0].startsWith(`${NOW}-`)).toBe(true);
  });

  it('deletes fields older than the data timeout, and fields whose name carries no time', () => {
    const other = MALWARE_VALUE.replace('malware', 'spam');
    const hash = new Map([
      [`${NOW - 86_401}`, other],
      [`${NOW - 86_400}-00000000`, other],
      ['junk', other],
    ]);
    expect(applyIntelEvent(hash, record(malwareEvent), NOW).deleteFields).toEqual([`${NOW - 86_401}`, 'junk']);
  });

  it('keeps two different events for one IP in the same second (§15 item 51)', () => {
    const hash = new Map<string, string>();
    for (const event of [malwareEvent, { ...malwareEvent, 'classification.type': 'phishing' }]) {
      const change = applyIntelEvent(hash, record(event), NOW);
      for (const f of change.deleteFields) hash.delete(f);
      hash.set(...change.setField);
    }
    expect(hash.size).toBe(2);
    // The same event again in that second rewrites its own field.
    const again = applyIntelEvent(hash, record(malwareEvent), NOW);
    expect(again.deleteFields).toEqual([]);
    expect(hash.has(again.setField[0])).toBe(true);
  });

  it('escapes non-ASCII as Python json.dumps does, so both writers store identical bytes', () => {
    const change = applyIntelEvent(new Map(), record({ ...malwareEvent, 'event_description.text': 'Müller 😀', 'feed.accuracy': 87.5 }), NOW);
    expect(change.setField[1]).toContain('"event_description": "M\\u00fcller \\ud83d\\ude00"');
    expect(change.setField[1]).toContain('"feed_accuracy": 87.5,');
    expect((JSON.parse(change.setField[1]) as { event_description: string }).event_description).toBe('Müller 😀');
  });
});

describe('intelEntriesFromHash', () => {
  it('reads the scorer entries and reports bad values instead of throwing (§15 item 22)', () => {
    const result = intelEntriesFromHash({
      '1': MALWARE_VALUE,
      '2': '{"classification_type": "scanner"}',
      '3': 'not json',
      '4': '[1, 2]',
      '5': '"text"',
      '6': 'null',
    });
    expect(result.entries).toEqual([
      { classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'Spamhaus' },
      { classificationType: 'scanner', classificationTaxonomy: null, feedProvider: null },
    ]);
    expect(result.errors).toHaveLength(4);
    expect(result.errors[0]).toMatch(/^field 3: value is not valid JSON/);
    expect(result.errors.slice(1)).toEqual([
      'field 4: value is an array, not a JSON object',
      'field 5: value is a string, not a JSON object',
      'field 6: value is null, not a JSON object',
    ]);
  });
});

describe('buildIntelIndex', () => {
  it('aggregates events per source IP as the bot does in Redis, reporting skipped events', () => {
    const skipped: string[] = [];
    const index = buildIntelIndex(
      [
        malwareEvent,
        malwareEvent,
        { ...malwareEvent, 'classification.type': 'phishing', 'classification.taxonomy': 'fraud' },
        { 'source.ip': '::ffff:198.51.100.9', 'classification.type': 'scanner' },
        { 'feed.provider': 'no ip' },
      ],
      NOW,
      86_400,
      (reason) => skipped.push(reason),
    );
    expect([...index.keys()]).toEqual(['203.0.113.5', '198.51.100.9']);
    expect(index.get('203.0.113.5')).toEqual([
      { classificationType: 'malware', classificationTaxonomy: 'malicious code', feedProvider: 'Spamhaus' },
      { classificationType: 'phishing', classificationTaxonomy: 'fraud', feedProvider: 'Spamhaus' },
    ]);
    expect(index.get('198.51.100.9')).toEqual([{ classificationType: 'scanner', classificationTaxonomy: '', feedProvider: '' }]);
    expect(skipped).toEqual(['no source.ip']);
  });
});

describe('intelRecordFromLine', () => {
  it('tells blank lines, bad lines (with their reason) and events apart, dropping a trailing CR', () => {
    expect(intelRecordFromLine('   ')).toEqual({ kind: 'blank' });
    expect(intelRecordFromLine('\r')).toEqual({ kind: 'blank' });
    const bad = intelRecordFromLine('{"source.ip": ');
    expect(bad.kind).toBe('skipped');
    expect(bad.kind === 'skipped' && bad.reason).toMatch(/^invalid JSON \(/);
    expect(intelRecordFromLine('{"feed.provider":"x"}')).toEqual({ kind: 'skipped', reason: 'no source.ip' });
    const event = { 'source.ip': '::ffff:192.0.2.7', 'classification.type': 'malware' };
    const read = intelRecordFromLine(`${JSON.stringify(event)}\r`);
    expect(read).toMatchObject({ kind: 'record', ip: '192.0.2.7', event, record: { classification_type: 'malware' } });
  });
});
