import { describe, expect, it } from 'vitest';
import { moduleRef } from '../../runtime/index.js';
import { defaultConfig } from '../../bolts/themis-config.js';
import { conversationShareOf } from '../../spouts/conversation-share.js';
import { deploymentParallelism } from '../../topology/deployment.js';
import { buildThemisTopology, DISCARD_FLOWS, JSON_TO_TUPLE, MATCH_FLOWS, SPOUT } from '../../topology/themis-topology.js';

const share = (line: string, shares = 2) => {
  // Lines sit inside a larger read buffer, as the file spout hands them over.
  const bytes = Buffer.from(`xx\n${line}\nyy`, 'utf8');
  return conversationShareOf(bytes, 3, 3 + Buffer.byteLength(line), shares);
};

const flow = (o: { protocol?: number; src: string; sport: number; dst: string; dport: number }) =>
  JSON.stringify({ id: 1, protocol: o.protocol ?? 6, src_ip: o.src, src_port: o.sport, dst_ip: o.dst, dst_port: o.dport, packets: 1, bytes: 40 });

describe('conversationShareOf', () => {
  it('gives both directions of a conversation the same share, for IPv4 and IPv6, over many conversations', () => {
    for (let i = 0; i < 500; i++) {
      for (const [a, b] of [
        [`10.0.${i % 256}.${(i * 7) % 256}`, `198.51.100.${i % 200}`],
        [`2001:db8::${i.toString(16)}`, `2001:db8:ffff::${(i * 3).toString(16)}`],
      ] as const) {
        const forward = flow({ protocol: i % 2 ? 6 : 17, src: a, sport: 40_000 + i, dst: b, dport: 443 });
        const reverse = flow({ protocol: i % 2 ? 6 : 17, src: b, sport: 443, dst: a, dport: 40_000 + i });
        for (const shares of [2, 3, 4]) {
          const s = share(forward, shares);
          expect(s).not.toBeNull();
          expect(share(reverse, shares)).toBe(s);
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThan(shares);
        }
      }
    }
  });

  it('reads the endpoints whatever the key order and spacing, and parses addresses (one host, one share)', () => {
    const compact = flow({ src: '192.0.2.10', sport: 51_000, dst: '203.0.113.5', dport: 22 });
    const spaced = '{ "dst_port" : 51000 ,"dst_ip":\t"192.0.2.10", "src_port": 22, "protocol": 6, "src_ip": "::ffff:203.0.113.5", "id": 9 }';
    expect(share(spaced, 4)).toBe(share(compact, 4));
    const upper = flow({ src: '2001:DB8:0:0::1', sport: 1, dst: '2001:db8::2', dport: 2 });
    const lower = flow({ src: '2001:db8::1', sport: 1, dst: '2001:db8::2', dport: 2 });
    expect(share(upper, 4)).toBe(share(lower, 4));
  });

  it('tells the protocols apart and spreads conversations over the shares', () => {
    const counts = [0, 0, 0, 0];
    let differs = 0;
    for (let i = 0; i < 4000; i++) {
      const tcp = share(flow({ protocol: 6, src: `10.1.${i >> 8}.${i & 255}`, sport: 1024 + i, dst: '198.51.100.7', dport: 80 }), 4)!;
      const udp = share(flow({ protocol: 17, src: `10.1.${i >> 8}.${i & 255}`, sport: 1024 + i, dst: '198.51.100.7', dport: 80 }), 4)!;
      counts[tcp]!++;
      if (tcp !== udp) differs++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(differs).toBeGreaterThan(2000);
  });

  it('returns null when an endpoint cannot be read, so the reader falls back to the line number', () => {
    expect(share('not json at all')).toBeNull();
    expect(share('')).toBeNull();
    expect(share('{"protocol":6,"src_ip":"192.0.2.1","src_port":1,"dst_port":2}')).toBeNull();
    expect(share('{"protocol":6,"src_ip":"192.0.2.1","src_port":1,"dst_ip":"host.example","dst_port":2}')).toBeNull();
    expect(share('{"protocol":"6","src_ip":"192.0.2.1","src_port":1,"dst_ip":"192.0.2.2","dst_port":2}')).toBeNull();
    expect(share('{"protocol":6,"src_ip":"192.0.2.1","src_port":1,"dst_ip":"192.0.\\u0032.2","dst_port":2}')).toBeNull();
    // A key of the next line is not read as this line's.
    const bytes = Buffer.from('{"protocol":6,"src_ip":"192.0.2.1","src_port":1}\n{"dst_ip":"192.0.2.2","dst_port":2}');
    expect(conversationShareOf(bytes, 0, bytes.indexOf(10), 2)).toBeNull();
  });
});

describe('front groupings of the Themis topology', () => {
  const args = { config: defaultConfig(), dataDir: '/nonexistent', outputDir: '/nonexistent', instance: 't', services: {} };
  const spout = moduleRef(import.meta.url, '../../spouts/file-spout', 'FileSpout', { path: '/nonexistent', maxRetries: 1 });
  const inputs = async (o: { readerPerThread: boolean; overrides?: Record<string, { executors: number; tasks: number }> }) => {
    const spoutParallelism = o.readerPerThread ? { executors: 2, tasks: 2 } : { executors: 1, tasks: 1 };
    const b = buildThemisTopology({
      args,
      spout,
      parallelism: deploymentParallelism({ executors: 2, tasks: 2, maxPending: 10, extraMatch: 0, name: 't' }, spoutParallelism, o.overrides ?? {}),
      workers: 2,
      spoutSharesByConversation: o.readerPerThread,
    });
    const spec = await b.build({ name: 't', workers: 2 });
    const input = (id: string, source: string) => spec.components.find((c) => c.id === id)!.inputs.find((i) => i.source === source)!;
    return { parse: input(JSON_TO_TUPLE, SPOUT), match: input(MATCH_FLOWS, DISCARD_FLOWS) };
  };

  it('keeps a reader-per-thread file input on its thread from the spout through match-flows', async () => {
    const { parse, match } = await inputs({ readerPerThread: true });
    expect(parse.grouping).toBe('localOrShuffle');
    expect(match).toMatchObject({ grouping: 'localFields', fields: ['conversation'] });
  });

  it('spreads the lines of a single reader by conversation, then matches among the local tasks', async () => {
    const { parse, match } = await inputs({ readerPerThread: false });
    expect(parse).toMatchObject({ grouping: 'fields', fields: ['share'] });
    expect(match).toMatchObject({ grouping: 'localFields', fields: ['conversation'] });
  });

  it('matches across threads when a component between the parser and match-flows is not on every thread', async () => {
    for (const id of [JSON_TO_TUPLE, DISCARD_FLOWS, MATCH_FLOWS]) {
      const { match } = await inputs({ readerPerThread: true, overrides: { [id]: { executors: 1, tasks: 1 } } });
      expect(match).toMatchObject({ grouping: 'fields', fields: ['conversation'] });
    }
  });
});
