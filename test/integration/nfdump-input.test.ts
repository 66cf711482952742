import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { captureToNfcapd, killChildren, requireNfdumpTools } from '../helpers/nfcapd-capture.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type PacketSpec } from '../helpers/pcap-writer.js';

// nfdump data scored without a broker (issue 15): `themis-topology submit --input <nfcapd file,
// directory or nfdump JSON>`, the format refused when a file plainly is another, and
// `themis-ingest --output`. nfcapd files are made here by softflowd (NetFlow v9) and nfcapd.
const NFDUMP_JSON = fileURLToPath(new URL('../fixtures/nfdump/softflowd-v9-mixed.json', import.meta.url));
/** Records in that fixture (its README). */
const NFDUMP_JSON_RECORDS = 11;
/** 2017-01-10T07:39:17.5Z, the thesis example time (reference §4.2). */
const CAPTURE_START_US = 1_484_033_957_500_000;
const LOCAL = '192.0.2.10';

const tcp = (src: string, srcPort: number, dst: string, dstPort: number, flags: number, payloadBytes = 0) => ({
  src,
  dst,
  transport: { kind: 'tcp' as const, srcPort, dstPort, flags, payloadBytes },
});
const udp = (src: string, srcPort: number, dst: string, dstPort: number, payloadBytes: number) => ({
  src,
  dst,
  transport: { kind: 'udp' as const, srcPort, dstPort, payloadBytes },
});
/** An HTTPS conversation, an inbound SYN probe and DNS: 5 unidirectional flows. */
const PACKETS: PacketSpec[] = [
  tcp(LOCAL, 40000, '198.51.100.7', 443, TCP_SYN),
  tcp('198.51.100.7', 443, LOCAL, 40000, TCP_SYN | TCP_ACK),
  tcp(LOCAL, 40000, '198.51.100.7', 443, TCP_ACK | TCP_PSH, 120),
  tcp('198.51.100.7', 443, LOCAL, 40000, TCP_ACK | TCP_PSH | TCP_FIN, 900),
  tcp(LOCAL, 40000, '198.51.100.7', 443, TCP_ACK | TCP_FIN),
  tcp('203.0.113.5', 55555, LOCAL, 22, TCP_SYN),
  udp(LOCAL, 53000, '8.8.8.8', 53, 30),
  udp('8.8.8.8', 53, LOCAL, 53000, 80),
].map((step, i) => ({ ...step, timeUs: CAPTURE_START_US + i * 2_000 }));

let workDir: string;
let nfcapdFile: string;
let nfcapdRecords: number;

const submitArgs = (name: string, out: string, ...extra: string[]) => ['submit', '1', '1', '100', '0', name, '--output-dir', out, '--workers', '1', '--no-metrics-port', ...extra];
const outDir = (name: string) => join(workDir, `out-${name}`);
/** The lines of an output file; an output the run had no record for is not created. */
const linesOf = (dir: string, file: string) =>
  existsSync(join(dir, file))
    ? readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
    : [];
const records = (dir: string, file: string) => linesOf(dir, file).map((line) => JSON.parse(line) as Record<string, unknown>);
const sortedLines = (dir: string, file: string) => linesOf(dir, file).sort();
/** Every flow id an output mentions: scored flows and their pairs, and ignored flows. */
function accountedIds(dir: string): number[] {
  const ids = new Set<number>();
  for (const r of records(dir, 'scored-flows.jsonl')) for (const id of [r.flow_id, r.pair_flow_id]) if (typeof id === 'number') ids.add(id);
  for (const r of records(dir, 'ignored-flows.jsonl')) if (typeof r.flow_id === 'number') ids.add(r.flow_id);
  return [...ids].sort((a, b) => a - b);
}
const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'themis-nfdump-input-'));
  requireNfdumpTools();
  ({ file: nfcapdFile, records: nfcapdRecords } = await captureToNfcapd(workDir, PACKETS));
});

beforeEach(() => requireNfdumpTools());

afterAll(() => {
  killChildren();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe('themis-topology submit --input <nfdump data>', () => {
  it('scores an nfcapd file as themis-ingest would convert it, with ids from --first-id', async () => {
    expect(nfcapdRecords).toBe(5);
    const lines = join(workDir, 'converted.jsonl');
    const ingest = await runCli('themis-ingest', ['nfdump', nfcapdFile, '--output', lines, '--first-id', '1000']);
    expect(ingest.code, ingest.stderr).toBe(0);

    const spoolParent = join(workDir, 'tmp');
    mkdirSync(spoolParent);
    const direct = await runCli('themis-topology', submitArgs('nfcapd', outDir('nfcapd'), '--input', nfcapdFile, '--first-id', '1000'), {
      env: { TMPDIR: spoolParent },
    });
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stderr).toContain(`(nfcapd, 1 file): 5 records read, 5 flows converted, 0 not converted`);
    expect(direct.stderr).toContain('ids 1000 to 1004 (next run may use --first-id 1005)');
    expect(accountedIds(outDir('nfcapd'))).toEqual(range(1000, 5));

    const viaLines = await runCli('themis-topology', submitArgs('lines', outDir('lines'), '--input', lines));
    expect(viaLines.code, viaLines.stderr).toBe(0);
    for (const file of ['scored-flows.jsonl', 'scored-flows-detail.jsonl', 'ignored-flows.jsonl']) {
      expect(sortedLines(outDir('nfcapd'), file), file).toEqual(sortedLines(outDir('lines'), file));
    }
    // The SYN probe nobody answered is scored as such.
    const probe = records(outDir('nfcapd'), 'scored-flows.jsonl').find((r) => r.src_ip === '203.0.113.5' || r.dst_ip === '203.0.113.5');
    expect(probe?.tags).toContain('POSSIBLE_SCAN-SYN_ONLY');
    // The spool was under $TMPDIR, and is gone with the run.
    const spool = /into JSON lines in (\S+) before scoring/.exec(direct.stderr)?.[1];
    expect(spool?.startsWith(`${spoolParent}/themis-input-`), direct.stderr).toBe(true);
    expect(existsSync(spool!)).toBe(false);
    expect(readdirSync(spoolParent).filter((name) => name.startsWith('themis-input-'))).toEqual([]);
  }, 60_000);

  it('scores the nfcapd files of a directory in name order, leaving out the one nfcapd is still writing', async () => {
    const dir = join(workDir, 'dir');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    copyFileSync(nfcapdFile, join(dir, 'sub', 'nfcapd.201701100740'));
    copyFileSync(nfcapdFile, join(dir, 'nfcapd.201701100735'));
    writeFileSync(join(dir, 'nfcapd.current.1234'), 'being written');

    const r = await runCli('themis-topology', submitArgs('dir', outDir('dir'), '--input', dir, '--first-id', '1'));

    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('(nfcapd, 2 files): 10 records read, 10 flows converted, 0 not converted');
    expect(accountedIds(outDir('dir'))).toEqual(range(1, 10));
    // nfcapd.201701100735 comes first: its flows have ids 1-5.
    const scored = records(outDir('dir'), 'scored-flows.jsonl');
    const probeIds = scored.filter((rec) => rec.src_ip === '203.0.113.5' || rec.dst_ip === '203.0.113.5').map((rec) => rec.flow_id as number);
    expect(probeIds.sort((a, b) => a - b)).toHaveLength(2);
    expect(probeIds[0]).toBeLessThanOrEqual(5);
    expect(probeIds[1]).toBeGreaterThan(5);
  }, 60_000);

  it('scores the files nfdump can read and exits 1 naming the one it cannot', async () => {
    const dir = join(workDir, 'dir-cut');
    mkdirSync(dir);
    copyFileSync(nfcapdFile, join(dir, 'nfcapd.201701100735'));
    // An nfcapd header (so not refused as another format) cut off after 200 bytes.
    const cut = join(dir, 'nfcapd.201701100740');
    writeFileSync(cut, readFileSync(nfcapdFile).subarray(0, 200));

    const r = await runCli('themis-topology', submitArgs('cut', outDir('cut'), '--input', dir, '--first-id', '1'));

    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`themis-topology: error: ${cut}: nfdump reported a problem`);
    expect(r.stderr).toMatch(/\(nfcapd, 2 files\): 5 records read, 5 flows converted, 0 not converted [^;]*, 1 input error\(s\); ids 1 to 5/);
    expect(r.stderr).toContain('the input could not be read completely (1 error(s) above)');
    expect(accountedIds(outDir('cut'))).toEqual(range(1, 5));
  }, 60_000);

  it('converts nfdump JSON from standard input when --input-format says so', async () => {
    const r = await runCli('themis-topology', submitArgs('stdin', outDir('stdin'), '--input', '-', '--input-format', 'nfdump-json', '--first-id', '500'), {
      input: readFileSync(NFDUMP_JSON, 'utf8'),
    });

    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`input stdin (nfdump JSON): ${NFDUMP_JSON_RECORDS} records read, ${NFDUMP_JSON_RECORDS} flows converted`);
    expect(accountedIds(outDir('stdin'))).toEqual(range(500, NFDUMP_JSON_RECORDS));
  }, 60_000);

  it('detects raw nfdump JSON and scores it as with --input-format nfdump-json', async () => {
    const detected = await runCli('themis-topology', submitArgs('detected', outDir('detected'), '--input', NFDUMP_JSON, '--first-id', '500'));
    const given = await runCli('themis-topology', submitArgs('given', outDir('given'), '--input', NFDUMP_JSON, '--input-format', 'nfdump-json', '--first-id', '500'));

    for (const r of [detected, given]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`(nfdump JSON): ${NFDUMP_JSON_RECORDS} records read, ${NFDUMP_JSON_RECORDS} flows converted, 0 not converted`);
      expect(r.stderr).not.toContain('invalid JSON');
    }
    expect(accountedIds(outDir('detected'))).toEqual(range(500, NFDUMP_JSON_RECORDS));
    for (const file of ['scored-flows.jsonl', 'ignored-flows.jsonl']) {
      expect(sortedLines(outDir('detected'), file)).toEqual(sortedLines(outDir('given'), file));
    }
    expect(records(outDir('detected'), 'ignored-flows.jsonl').filter((rec) => rec.stage === 'parse')).toEqual([]);
  }, 60_000);

  it('sends records that do not convert to ignored-flows with their reason, file and record number, and scores the rest', async () => {
    const all = JSON.parse(readFileSync(NFDUMP_JSON, 'utf8')) as Record<string, unknown>[];
    delete all[1]!.first;
    all[2]!.src4_addr = '999.1.1.1';
    const file = join(workDir, 'two-bad.json');
    writeFileSync(file, JSON.stringify(all, null, '\t'));

    const r = await runCli('themis-topology', submitArgs('bad', outDir('bad'), '--input', file, '--first-id', '1'));

    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${NFDUMP_JSON_RECORDS} records read, ${NFDUMP_JSON_RECORDS - 2} flows converted, 2 not converted`);
    expect(r.stderr).toMatch(/done in .* 2 invalid/);
    const parseStage = records(outDir('bad'), 'ignored-flows.jsonl')
      .filter((rec) => rec.stage === 'parse')
      .sort((a, b) => String(a.origin).localeCompare(String(b.origin)));
    expect(parseStage.map((rec) => [rec.origin, rec.reason])).toEqual([
      [`${file} record 2`, 'missing field first'],
      [`${file} record 3`, 'src_ip must be an IPv4 or IPv6 address, got "999.1.1.1"'],
    ]);
    expect(JSON.parse(parseStage[0]!.line as string)).toMatchObject({ type: 'FLOW', src4_addr: all[1]!.src4_addr });
    // Record 2 had no flow; record 3's flow had id 2 and was refused: the other 9 flows are all there.
    expect(accountedIds(outDir('bad'))).toEqual([1, ...range(3, NFDUMP_JSON_RECORDS - 3)]);
  }, 60_000);
});

describe('a file given as the wrong format', () => {
  const refused = async (program: string, args: string[], out: string | null) => {
    const r = await runCli(program, args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.split('\n').filter((line) => line.length > 0);
    expect(lines, r.stderr).toHaveLength(1);
    if (out !== null) expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    return lines[0]!;
  };

  it('is refused by themis-topology in one line naming the right --input-format, before anything is written', async () => {
    expect(await refused('themis-topology', submitArgs('w1', outDir('w1'), '--input', NFDUMP_JSON, '--input-format', 'jsonl'), outDir('w1'))).toBe(
      `themis-topology: --input ${NFDUMP_JSON}: this is nfdump JSON (nfdump -o json), not JSON lines; use --input-format nfdump-json`,
    );
    expect(await refused('themis-topology', submitArgs('w2', outDir('w2'), '--input', nfcapdFile, '--input-format', 'nfdump-json'), outDir('w2'))).toBe(
      `themis-topology: --input ${nfcapdFile}: this is an nfcapd file, not nfdump JSON; use --input-format nfcapd`,
    );
    const lines = join(workDir, 'flows.jsonl');
    writeFileSync(lines, `${JSON.stringify({ id: 1, start_timestamp_unix_secs: 1, end_timestamp_unix_secs: 1, protocol: 1, src_ip: LOCAL, dst_ip: '8.8.8.8', src_port: 0, dst_port: 0, packets: 1, bytes: 84 })}\n`);
    expect(await refused('themis-topology', submitArgs('w3', outDir('w3'), '--input', lines, '--input-format', 'nfcapd'), outDir('w3'))).toBe(
      `themis-topology: --input ${lines}: this is JSON lines of Themis flows, not an nfcapd file; use --input-format jsonl or leave it out`,
    );
  }, 60_000);

  it('is refused by themis-topology in one line saying how to install nfdump when it is missing', async () => {
    const r = await runCli('themis-topology', submitArgs('nonfdump', outDir('nonfdump'), '--input', nfcapdFile), { env: { PATH: join(workDir, 'no-bin') } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`themis-topology: --input ${nfcapdFile}: nfdump is not installed (command "nfdump" not found); install it with: apt-get install nfdump`);
    expect(readdirSync(outDir('nonfdump'))).toEqual([]);
  }, 30_000);

  it('is refused by themis-ingest in one line naming the command that reads it', async () => {
    const out = join(workDir, 'ingest-out.jsonl');
    expect(await refused('themis-ingest', ['json', NFDUMP_JSON, '--output', out], null)).toBe(
      `themis-ingest json: ${NFDUMP_JSON}: this is nfdump JSON (nfdump -o json), not JSON lines; read it with: themis-ingest nfdump --nfdump-json ${NFDUMP_JSON}`,
    );
    expect(await refused('themis-ingest', ['json', nfcapdFile, '--output', out], null)).toBe(
      `themis-ingest json: ${nfcapdFile}: this is an nfcapd file, not JSON lines; read it with: themis-ingest nfdump ${nfcapdFile}`,
    );
    expect(existsSync(out)).toBe(false);
  }, 30_000);
});

describe('themis-ingest --output', () => {
  it('writes the valid JSON lines as they were read, reports the bad one, and refuses --brokers with it', async () => {
    const good = [1, 2, 3].map((id) => JSON.stringify({ id, start_timestamp_unix_secs: 1484033957, end_timestamp_unix_secs: 1484033957, protocol: 17, src_ip: LOCAL, dst_ip: '8.8.8.8', src_port: 53000 + id, dst_port: 53, packets: 1, bytes: 60 }));
    const input = join(workDir, 'mixed.jsonl');
    writeFileSync(input, [good[0], '{"id": 9, "protocol": "six"}', good[1], '', good[2]].join('\n'));

    const r = await runCli('themis-ingest', ['json', input, '--output', '-']);

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${good.join('\n')}\n`);
    expect(r.stderr).toContain(`${input}:2: `);
    expect(r.stderr).toContain('read: 4, written: 3, invalid: 1 (not written)');

    const both = await runCli('themis-ingest', ['json', input, '--output', '-', '--brokers', '127.0.0.1:9092']);
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('themis-ingest json: --output writes the flows to stdout instead of Kafka: give it or --brokers, not both');
    expect(both.stdout).toBe('');
  }, 30_000);
});
