import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { prng } from '../../data_sources/tools/generate-lists.js';

/**
 * A deterministic fuzz corpus (issue 13): valid flow lines (from bench/lib/flow-generator.ts,
 * given as a file) mixed with bad lines of every kind a broken exporter, a truncated transfer or
 * an attacker could produce. The same (valid file, seed, bad count) always gives the same bytes.
 *
 * Bad kinds: random bytes, truncated JSON, a required field of the wrong type, numbers too large
 * to be exact, NUL bytes (raw, and escaped into an address), deep nesting (arrays, objects, and
 * inside a field), bad lines ending in CRLF or broken by a bare CR, and one line of 5 MB. Every bad
 * line is non-blank (the file spout skips blank lines) and refused by the parser. A share of the
 * valid lines ends in CRLF: the file spout drops the CR, so they must score as the same lines
 * ending in LF.
 */

export const BAD_KINDS = ['randomBytes', 'truncated', 'wrongType', 'hugeNumber', 'nulByte', 'deepNesting', 'crlf', 'fiveMegabytes'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface FuzzCorpus {
  /** The corpus file. */
  readonly path: string;
  /** Line number (1-based, as the spout's origin `file:line`) → kind, for every bad line. */
  readonly badLines: ReadonlyMap<number, BadKind>;
  readonly validLines: number;
  readonly bytes: number;
  readonly byKind: Readonly<Record<BadKind, number>>;
}

/** Shares of the bad lines by kind (the one 5 MB line aside). */
const KIND_WEIGHTS: ReadonlyArray<readonly [BadKind, number]> = [
  ['randomBytes', 20],
  ['truncated', 20],
  ['wrongType', 20],
  ['hugeNumber', 15],
  ['nulByte', 10],
  ['deepNesting', 2],
  ['crlf', 13],
];
const FIVE_MB = 5 * 1024 * 1024;
const CRLF_VALID_SHARE = 0.1;
/** Ids of bad lines that carry one, far above the generator's. */
const BAD_ID_BASE = 900_000_000;

const REQUIRED = ['id', 'start_timestamp_unix_secs', 'end_timestamp_unix_secs', 'protocol', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'packets', 'bytes'] as const;
const NUMERIC = ['start_timestamp_unix_secs', 'end_timestamp_unix_secs', 'protocol', 'src_port', 'dst_port', 'packets', 'bytes'] as const;
const WRONG_VALUES = ['"6"', 'true', 'false', '[1]', '{}', '{"v":1}', 'null', '"192.0.2.1"', '1.5', '"x"'];
const WRONG_IPS = ['3221225985', 'true', '["192.0.2.1"]', 'null', '{}', '""'];
const HUGE_NUMBERS = ['1e400', '-1e400', '9007199254740993', '18446744073709551616', '123456789012345678901234567890', '1.7976931348623157e309', '99999999999999999999999999999999999999'];

/** Draws in [0, 1) from data_sources' seedable PRNG. */
function rng(seed: number): () => number {
  const next = prng(seed);
  return () => next() / 4294967296;
}

/** Replaces the value of `key` in a flat JSON line (the generator's shape) with `value`. */
function withValue(line: string, key: string, value: string): string {
  const out = line.replace(new RegExp(`"${key}":("[^"]*"|[^,}]*)`), `"${key}":${value}`);
  if (out === line && !line.includes(`"${key}":${value}`)) throw new Error(`fuzz corpus: no field ${key} in ${line}`);
  return out;
}

class BadLineMaker {
  private nextId = BAD_ID_BASE;

  constructor(
    private readonly random: () => number,
    private readonly templates: readonly string[],
  ) {}

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }
  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** A valid line with an id of its own. */
  private template(): string {
    return withValue(this.pick(this.templates), 'id', String(this.nextId++));
  }

  make(kind: BadKind): Buffer {
    switch (kind) {
      case 'randomBytes': {
        const bytes = Buffer.alloc(1 + this.int(300));
        for (let i = 0; i < bytes.length; i++) {
          const b = this.int(255);
          bytes[i] = b >= 10 ? b + 1 : b; // never LF: it would end the line
        }
        bytes[0] = 0xfe; // not whitespace, so the line is never blank, and never a JSON start
        return bytes;
      }
      case 'truncated': {
        const line = this.template();
        return Buffer.from(line.slice(0, 1 + this.int(line.length - 2)));
      }
      case 'wrongType': {
        const key = this.pick(REQUIRED);
        const value = key === 'src_ip' || key === 'dst_ip' ? this.pick(WRONG_IPS) : this.pick(WRONG_VALUES);
        return Buffer.from(withValue(this.template(), key, value));
      }
      case 'hugeNumber':
        return Buffer.from(withValue(this.template(), this.random() < 0.2 ? 'id' : this.pick(NUMERIC), this.pick(HUGE_NUMBERS)));
      case 'nulByte': {
        const line = this.template();
        switch (this.int(3)) {
          case 0: // a raw NUL inside a string: a control character JSON refuses
            return Buffer.from(withValue(line, 'src_ip', `"192.0.2.1\u0000"`));
          case 1: // a raw NUL between tokens
            return Buffer.from(line.replace(',', ',\u0000'));
          default: // an escaped NUL that makes the address no address
            return Buffer.from(withValue(line, 'dst_ip', '"192.0.2.1\\u0000"'));
        }
      }
      case 'deepNesting': {
        const depth = this.random() < 0.01 ? 100_000 : 100 + this.int(5_000);
        switch (this.int(3)) {
          case 0:
            return Buffer.from('['.repeat(depth) + ']'.repeat(depth));
          case 1:
            return Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
          default: // a well-formed flow but for one field nested deep
            return Buffer.from(withValue(this.template(), this.pick(NUMERIC), '['.repeat(depth) + '6' + ']'.repeat(depth)));
        }
      }
      case 'crlf': {
        const line = this.template();
        const cut = 1 + this.int(line.length - 2);
        // Truncated and ending in CRLF, or broken by a bare CR inside a token.
        if (this.random() < 0.5) return Buffer.from(`${line.slice(0, cut)}\r`);
        const digits = /\d{2,}/.exec(line.slice(8))!;
        const at = 8 + digits.index + 1;
        return Buffer.from(`${line.slice(0, at)}\r${line.slice(at)}`);
      }
      case 'fiveMegabytes':
        return Buffer.from(withValue(this.template(), 'src_ip', `"${'a'.repeat(FIVE_MB)}"`));
    }
  }
}

/**
 * Writes the corpus: every line of `validFile` in its order, `badCount` bad lines and the 5 MB
 * line spread among them at random places. Returns where the bad lines are.
 */
export function writeFuzzCorpus(path: string, validFile: string, { seed, badCount }: { seed: number; badCount: number }): FuzzCorpus {
  const valid = readFileSync(validFile, 'utf8').split('\n').filter((l) => l.length > 0);
  const random = rng(seed);
  const maker = new BadLineMaker(random, valid.slice(0, 1_000));
  const totalWeight = KIND_WEIGHTS.reduce((n, [, w]) => n + w, 0);
  const kindOf = () => {
    let x = random() * totalWeight;
    for (const [kind, w] of KIND_WEIGHTS) if ((x -= w) < 0) return kind;
    return KIND_WEIGHTS[0]![0];
  };
  const fiveMbAt = 1 + Math.floor(random() * badCount);
  const badLines = new Map<number, BadKind>();
  const byKind = Object.fromEntries(BAD_KINDS.map((k) => [k, 0])) as Record<BadKind, number>;
  const fd = openSync(path, 'w');
  let bytes = 0;
  const write = (b: Buffer) => {
    writeSync(fd, b);
    bytes += b.length;
  };
  try {
    let lineNo = 0;
    let v = 0;
    let bad = 0;
    const totalBad = badCount + 1;
    while (v < valid.length || bad < totalBad) {
      const isBad = random() * (valid.length - v + totalBad - bad) < totalBad - bad;
      lineNo++;
      if (isBad) {
        bad++;
        const kind = bad === fiveMbAt ? 'fiveMegabytes' : kindOf();
        badLines.set(lineNo, kind);
        byKind[kind]++;
        write(maker.make(kind));
        write(Buffer.from('\n'));
      } else {
        write(Buffer.from(`${valid[v++]!}${random() < CRLF_VALID_SHARE ? '\r\n' : '\n'}`));
      }
    }
  } finally {
    closeSync(fd);
  }
  return { path, badLines, validLines: valid.length, bytes, byKind };
}
