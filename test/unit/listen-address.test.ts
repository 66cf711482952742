import { describe, expect, it } from 'vitest';
import { formatListenAddress, parseListenAddress } from '../../spouts/collector/listen-address.js';

describe('parseListenAddress', () => {
  it('reads IPv4 as udp4 and bracketed IPv6 as udp6', () => {
    expect(parseListenAddress('127.0.0.1:2055')).toEqual({ ok: true, address: { host: '127.0.0.1', port: 2055, family: 'udp4' } });
    expect(parseListenAddress('[::1]:4739')).toEqual({ ok: true, address: { host: '::1', port: 4739, family: 'udp6' } });
    expect(parseListenAddress('[::]:0')).toEqual({ ok: true, address: { host: '::', port: 0, family: 'udp6' } });
  });

  it('refuses host names, bare IPv6, ports above 65535 and missing ports, saying what to write', () => {
    for (const [text, words] of [
      ['localhost:2055', 'is not an IPv4 address'],
      ['::1:2055', 'must be <IPv4>:<port> or [<IPv6>]:<port>'],
      ['[127.0.0.1]:2055', 'is not an IPv6 address'],
      ['127.0.0.1:65536', 'port 65536 is above 65535'],
      ['127.0.0.1', 'must be <IPv4>:<port>'],
      ['127.0.0.1:', 'must be <IPv4>:<port>'],
    ] as const) {
      const parsed = parseListenAddress(text);
      expect(parsed.ok, text).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toContain(words);
    }
  });

  it('formats an address back the way --listen takes it', () => {
    for (const text of ['0.0.0.0:2055', '[2001:db8::1]:9995']) {
      const parsed = parseListenAddress(text);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(formatListenAddress(parsed.address)).toBe(text);
    }
  });
});
