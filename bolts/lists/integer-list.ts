import { ListFileError, type ListProblem } from './list-file-error.js';
import { contentLines, readListFile } from './read-list-file.js';

/**
 * Integer list files (reference §2.6, §7.1-7.2): `asn.txt`, `valid_protocols.txt`,
 * `ignore_honeyport_ports.txt`, `tcp_/udp_insecure_ports.txt`, `tcp_/udp_known_ports.txt`.
 * One decimal integer per line; `#` comments, blank lines, surrounding whitespace and CR are
 * accepted; any other line is an error naming file, line and text (fixes §15 item 26). Duplicates
 * are harmless. Membership is a Set, not the original's linear scan (§15 item 38).
 */

interface IntegerListSpec {
  /** What one entry is, for messages: "port", "protocol", "ASN". */
  readonly noun: string;
  readonly min: number;
  readonly max: number;
  /** A value that parses but is refused, with the reason (ASN 0). */
  readonly forbidden?: { readonly value: number; readonly reason: string };
  /** Why an empty list is refused, or undefined when an empty list is fine. */
  readonly emptyReason?: string;
}

const DECIMAL = /^\d{1,16}$/;

function parseIntegerList(text: string, file: string, spec: IntegerListSpec): ReadonlySet<number> {
  const values = new Set<number>();
  const problems: ListProblem[] = [];
  for (const { line, text: entry } of contentLines(text, 'trailing')) {
    if (!DECIMAL.test(entry)) {
      problems.push({ line, text: entry, reason: `not a decimal ${spec.noun}` });
      continue;
    }
    const value = Number(entry);
    if (value < spec.min || value > spec.max) {
      problems.push({ line, text: entry, reason: `${spec.noun} must be ${spec.min}-${spec.max}` });
    } else if (spec.forbidden !== undefined && value === spec.forbidden.value) {
      problems.push({ line, text: entry, reason: spec.forbidden.reason });
    } else {
      values.add(value);
    }
  }
  if (problems.length === 0 && values.size === 0 && spec.emptyReason !== undefined) {
    problems.push({ line: 0, text: '', reason: spec.emptyReason });
  }
  if (problems.length > 0) throw new ListFileError(file, problems);
  return values;
}

const ASN_SPEC: IntegerListSpec = {
  noun: 'ASN',
  min: 0,
  max: 4294967295,
  // ASNBolt reports 0 for every unresolved address; listing it would make them all local (§15 item 8).
  forbidden: { value: 0, reason: 'ASN 0 means "unknown" and cannot be local' },
  emptyReason: 'no ASNs listed: every flow would be discarded as unknown direction',
};
const PORT_SPEC: IntegerListSpec = { noun: 'port', min: 0, max: 65535 };
const PROTOCOL_SPEC: IntegerListSpec = {
  noun: 'protocol',
  min: 0,
  max: 255,
  emptyReason: 'no protocols listed: every flow would be discarded',
};

/** The local ("our") ASNs of `asn.txt`; 0 and an empty list are rejected. */
export function parseAsnList(text: string, file: string): ReadonlySet<number> {
  return parseIntegerList(text, file, ASN_SPEC);
}

/** A port list (honeypot, insecure or known ports); may be empty. */
export function parsePortList(text: string, file: string): ReadonlySet<number> {
  return parseIntegerList(text, file, PORT_SPEC);
}

/** `valid_protocols.txt`: IP protocol numbers to keep; an empty list is rejected. */
export function parseProtocolList(text: string, file: string): ReadonlySet<number> {
  return parseIntegerList(text, file, PROTOCOL_SPEC);
}

export async function loadAsnListFile(path: string): Promise<ReadonlySet<number>> {
  return parseAsnList(await readListFile(path), path);
}

export async function loadPortListFile(path: string): Promise<ReadonlySet<number>> {
  return parsePortList(await readListFile(path), path);
}

export async function loadProtocolListFile(path: string): Promise<ReadonlySet<number>> {
  return parseProtocolList(await readListFile(path), path);
}
