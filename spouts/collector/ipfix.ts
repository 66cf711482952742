import { u16, u32 } from './byte-reads.js';
import { SET_HELD, SET_MALFORMED, readDataSet, type DatagramScope } from './data-sets.js';
import { readTemplateSet } from './template-sets.js';

/**
 * IPFIX (RFC 7011): a 16-octet message header, then sets filling the message exactly.
 *
 *   header: version(2) = 10, length(2, whole message) exportTime(4, epoch s) sequence(4) domain(4)
 *   set:    id(2) length(2, with this header) then records; id 2 templates, 3 options
 *           templates, 4-255 reserved (skipped), 256 and up data of that template
 *
 * The sequence counts data records (options data included) per observation domain, so a message
 * is checked against the previous one once its records are counted; see exporter-stats.ts.
 */
const IPFIX_HEADER_LENGTH = 16;

export function decodeIpfix(b: Uint8Array, scope: DatagramScope): string | undefined {
  if (b.length < IPFIX_HEADER_LENGTH) return `IPFIX header needs ${IPFIX_HEADER_LENGTH} octets, got ${b.length}`;
  const length = u16(b, 2);
  if (length < IPFIX_HEADER_LENGTH || length > b.length) return `IPFIX message length ${length} does not fit a datagram of ${b.length} octets`;
  const header = { exportSecs: u32(b, 4), sysUptimeMs: -1 };
  const sequence = u32(b, 8);
  const domain = scope.exporter.domain(u32(b, 12));
  let records = 0;
  let p = IPFIX_HEADER_LENGTH;
  let problem: string | undefined;
  while (p < length) {
    if (length - p < 4) {
      problem = `${length - p} octets after the last set`;
      break;
    }
    const setId = u16(b, p);
    const setLength = u16(b, p + 2);
    if (setLength < 4 || p + setLength > length) {
      problem = `set ${setId} at octet ${p} has length ${setLength}, ${setLength < 4 ? 'less than its header' : `past the message's end (${length})`}`;
      break;
    }
    if (setId === 2 || setId === 3) {
      problem = readTemplateSet(scope, domain, setId === 2 ? 'ipfix' : 'ipfix-options', b, p + 4, p + setLength);
      if (problem !== undefined) break;
    } else if (setId >= 256) {
      const read = readDataSet(scope, domain, header, setId, b, p + 4, p + setLength);
      if (read === SET_MALFORMED) {
        problem = `data set ${setId} has a record running past its end`;
        break;
      }
      records = read === SET_HELD || records < 0 ? -1 : records + read;
    }
    p += setLength;
  }
  scope.exporter.checkSequence(domain, sequence, problem === undefined ? records : -1);
  return problem;
}
