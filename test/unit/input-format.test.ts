import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectInputFormat, formatMismatch } from '../../spouts/ingest/input-format.js';
import { readUnconvertedLine, unconvertedLine } from '../../bolts/parse/unconverted-record.js';
import { parseFlowLine } from '../../bolts/parse/parse-flow.js';

const text = (s: string) => Buffer.from(s, 'utf8');
const fixture = (name: string) => readFileSync(new URL(`../fixtures/nfdump/${name}`, import.meta.url));
const flowLine = '{"id":1,"start_timestamp_unix_secs":1484033957,"end_timestamp_unix_secs":1484033957,"protocol":6,"src_ip":"192.0.2.10","dst_ip":"198.51.100.7","src_port":40000,"dst_port":443,"packets":1,"bytes":60}';
/** The first 16 bytes of a file nfcapd 1.7.1 wrote (magic 0xA50C, layout 2, little-endian). */
const NFCAPD_17_HEAD = Buffer.from('0ca5020000010701f3e8146b00000000', 'hex');

describe('detectInputFormat', () => {
  it("recognises an nfcapd file by nfdump's magic and layout version", () => {
    expect(detectInputFormat(NFCAPD_17_HEAD)).toBe('nfcapd');
    const layout1 = Buffer.from(NFCAPD_17_HEAD);
    layout1[2] = 1;
    expect(detectInputFormat(layout1)).toBe('nfcapd');
  });

  it('does not take the magic with another layout version, or a file shorter than the header start, for nfcapd', () => {
    const layout9 = Buffer.from(NFCAPD_17_HEAD);
    layout9[2] = 9;
    expect(detectInputFormat(layout9)).toBe('unknown');
    expect(detectInputFormat(NFCAPD_17_HEAD.subarray(0, 3))).toBe('unknown');
  });

  it("recognises nfdump 1.7.1's pretty-printed array, and its empty result", () => {
    expect(detectInputFormat(fixture('softflowd-v9-mixed.json'))).toBe('nfdump-json');
    expect(detectInputFormat(fixture('no-matching-flows.json'))).toBe('nfdump-json');
  });

  it('recognises nfdump records one per line by their keys', () => {
    const record = '{"type":"FLOW","first":"2017-01-10T07:39:16.992","last":"2017-01-10T07:39:16.993","proto":6,"src4_addr":"192.0.2.10"}';
    expect(detectInputFormat(text(`${record}\n${record}\n`))).toBe('nfdump-json');
    expect(detectInputFormat(text('{"first":"2017-01-10T07:39:16.992","src6_addr":"2001:db8::1"}\n'))).toBe('nfdump-json');
    // A record cut off by the head's size is judged by the keys it shows.
    expect(detectInputFormat(text('{"type":"FLOW","first":"2017-01-10T07:39:16.992","src4_addr":"192.0.2.1'))).toBe('nfdump-json');
  });

  it('recognises Themis JSON lines, with a byte-order mark or blank lines first', () => {
    expect(detectInputFormat(text(`${flowLine}\n${flowLine}\n`))).toBe('jsonl');
    expect(detectInputFormat(text(`\uFEFF\n\n${flowLine}\n`))).toBe('jsonl');
    // A bad first line is still JSON lines: it goes to the ignored output like any bad line.
    expect(detectInputFormat(text('{"id": 2, "protocol": "six"\n'))).toBe('jsonl');
  });

  it('leaves empty files, plain text and unknown binary data undecided', () => {
    expect(detectInputFormat(text(''))).toBe('unknown');
    expect(detectInputFormat(text(' \n\t\n'))).toBe('unknown');
    expect(detectInputFormat(text('this is not an nfcapd file\n'))).toBe('unknown');
    expect(detectInputFormat(Buffer.from([0x1f, 0x8b, 0x08, 0x00]))).toBe('unknown');
  });
});

describe('formatMismatch', () => {
  it('names what the file is and what it was given as', () => {
    expect(formatMismatch('jsonl', 'nfdump-json')).toBe('this is nfdump JSON (nfdump -o json), not JSON lines');
    expect(formatMismatch('nfdump-json', 'nfcapd')).toBe('this is an nfcapd file, not nfdump JSON');
    expect(formatMismatch('nfcapd', 'jsonl')).toBe('this is JSON lines of Themis flows, not an nfcapd file');
  });

  it('finds nothing wrong when the format matches or cannot be told', () => {
    expect(formatMismatch('nfcapd', 'nfcapd')).toBeNull();
    expect(formatMismatch('jsonl', 'unknown')).toBeNull();
    expect(formatMismatch('nfcapd', 'unknown')).toBeNull();
  });
});

describe('unconverted-record lines', () => {
  it('carry the reason, origin and record through one JSON line that the parser refuses', () => {
    const record = { reason: 'missing field first', origin: 'flows.json record 7', record: '{"type":"FLOW","note":"a \\"quoted\\"\\nline"}' };
    const line = unconvertedLine(record);
    expect(line).not.toContain('\n');
    expect(parseFlowLine(line, 0).ok).toBe(false);
    expect(readUnconvertedLine(line)).toEqual(record);
  });

  it('are not mistaken for other lines, valid or not', () => {
    expect(readUnconvertedLine(flowLine)).toBeNull();
    expect(readUnconvertedLine('{"themis_unconverted":{"reason":1}}')).toBeNull();
    expect(readUnconvertedLine('{"themis_unconverted":')).toBeNull();
  });
});
