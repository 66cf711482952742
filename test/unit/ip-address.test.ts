import { describe, expect, it } from 'vitest';
import { formatV6, parseIp, parseV4Bytes } from '../../bolts/lookup/ip-address.js';

/** The WHATWG URL parser's IPv6 serialisation: RFC 5952's compression, from an independent implementation. */
const whatwg = (text: string) => new URL(`http://[${text}]/`).hostname.slice(1, -1);

function randomBytes(seed: number): Uint8Array {
  const b = new Uint8Array(16);
  let x = seed;
  for (let i = 0; i < 16; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // Many zero groups, so that every compression case comes up.
    b[i] = x % 3 === 0 ? 0 : x >>> 24;
  }
  for (let g = 0; g < 8; g++) if ((seed >> g) & 1) b[g * 2] = b[g * 2 + 1] = 0;
  return b;
}

describe('parseIp', () => {
  it('reads dotted quads and refuses leading zeros, parts above 255 and wrong counts', () => {
    expect(parseIp('192.0.2.1')).toEqual({ version: 4, v4: 0xc0000201, text: '192.0.2.1' });
    expect(parseIp('0.0.0.0')).toMatchObject({ v4: 0 });
    expect(parseIp('255.255.255.255')).toMatchObject({ v4: 0xffffffff });
    for (const bad of ['01.2.3.4', '1.2.3.256', '1.2.3', '1.2.3.4.5', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '']) expect(parseIp(bad), bad).toBeNull();
  });

  it('reads a dotted quad from raw bytes exactly as from text (parseV4Bytes agrees with parseIp)', () => {
    const texts = ['192.0.2.1', '0.0.0.0', '255.255.255.255', '10.0.0.10', '01.2.3.4', '1.2.3.256', '1.2.3', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '', '1.2.3.4 ', '::1'];
    for (let n = 0; n < 2000; n++) texts.push(`${(n * 37) % 300}.${(n * 11) % 256}.${n % 10}.${(n * 7) % 260}`);
    for (const text of texts) {
      // Inside a larger buffer, as a line holds it.
      const bytes = Buffer.from(`"${text}"`, 'latin1');
      const ip = parseIp(text);
      expect(parseV4Bytes(bytes, 1, bytes.length - 1), text).toBe(ip !== null && ip.version === 4 && !text.includes(':') ? ip.v4 : -1);
    }
  });

  it('reads IPv6 in every spelling to the same bytes and writes it the RFC 5952 way', () => {
    const cases: Array<[string, string]> = [
      ['2001:db8::1', '2001:db8::1'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::1.2.3.4', '::102:304'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [input, text] of cases) {
      const ip = parseIp(input);
      expect(ip, input).toMatchObject({ version: 6, text });
      expect(text).toBe(whatwg(input));
    }
  });

  it('turns an IPv4-mapped IPv6 address into its IPv4 form', () => {
    expect(parseIp('::ffff:192.0.2.1')).toEqual({ version: 4, v4: 0xc0000201, text: '192.0.2.1' });
    expect(parseIp('::FFFF:c000:0201')).toEqual({ version: 4, v4: 0xc0000201, text: '192.0.2.1' });
  });

  it('refuses malformed IPv6', () => {
    const bad = [':', ':::', ':1', '1:', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7', '12345::', 'g::1', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '::1.2.3.4:5', 'fe80::1%eth0', ' ::1'];
    for (const text of bad) expect(parseIp(text), text).toBeNull();
  });

  it('round-trips random addresses, in full and upper-case spellings, and agrees with the WHATWG serialisation', () => {
    for (let seed = 1; seed < 3000; seed++) {
      const bytes = randomBytes(seed);
      const isMapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
      if (isMapped) continue;
      const text = formatV6(bytes);
      expect(text).toBe(whatwg(text));
      const full = Array.from({ length: 8 }, (_, g) => ((bytes[g * 2]! << 8) | bytes[g * 2 + 1]!).toString(16).padStart(4, '0')).join(':');
      for (const spelling of [text, full, full.toUpperCase()]) {
        const ip = parseIp(spelling);
        expect(ip, spelling).not.toBeNull();
        expect(ip!.version).toBe(6);
        expect(ip!.text).toBe(text);
        if (ip!.version === 6) expect(Array.from(ip!.bytes)).toEqual(Array.from(bytes));
      }
    }
  });
});
