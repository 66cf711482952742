import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenError, UdpListener } from '../../spouts/collector/udp-listener.js';
import { waitFor } from '../helpers/exporter-tools.js';

// The listener on real loopback sockets, IPv4 and IPv6.

const opened: Array<UdpListener | Socket> = [];
afterEach(async () => {
  for (const s of opened.splice(0)) {
    if (s instanceof UdpListener) await s.close();
    else s.close();
  }
});

async function send(family: 'udp4' | 'udp6', host: string, port: number, payloads: Buffer[]): Promise<number> {
  const socket = createSocket(family);
  opened.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  for (const payload of payloads) await new Promise<void>((resolve, reject) => socket.send(payload, port, host, (err) => (err ? reject(err) : resolve())));
  return socket.address().port;
}

describe('UdpListener', () => {
  it('buffers datagrams with their sender, IPv4 and IPv6, and wakes a waiting consumer', async () => {
    for (const [family, host, sender] of [['udp4', '127.0.0.1', (p: number) => `127.0.0.1:${p}`], ['udp6', '::1', (p: number) => `[::1]:${p}`]] as const) {
      let wakes = 0;
      const listener = await UdpListener.open({ address: { host, port: 0, family }, onReadable: () => wakes++ });
      opened.push(listener);
      expect(listener.address.port).toBeGreaterThan(0);
      const waiting = listener.readable();
      const from = await send(family, host, listener.address.port, [Buffer.from('one'), Buffer.from('two')]);
      await waiting;
      await waitFor('both datagrams', () => listener.buffered === 2);
      const first = listener.shift()!;
      expect({ data: first.data.toString(), exporter: first.exporter }).toEqual({ data: 'one', exporter: sender(from) });
      expect(listener.shift()!.data.toString()).toBe('two');
      expect(wakes).toBeGreaterThanOrEqual(1);
    }
  });

  it('drops and counts datagrams beyond its buffer, and keeps what it buffered after close', async () => {
    const listener = await UdpListener.open({ address: { host: '127.0.0.1', port: 0, family: 'udp4' }, maxBufferedDatagrams: 3 });
    opened.push(listener);
    await send('udp4', '127.0.0.1', listener.address.port, [0, 1, 2, 3, 4].map((n) => Buffer.from([n])));
    await waitFor('five datagrams received', () => listener.received === 5);
    expect({ buffered: listener.buffered, dropped: listener.dropped }).toEqual({ buffered: 3, dropped: 2 });
    await listener.close();
    expect(listener.isClosed).toBe(true);
    await listener.readable(); // resolves at once when closed
    expect([0, 1, 2].map(() => listener.shift()!.data[0])).toEqual([0, 1, 2]);
    expect(listener.shift()).toBeUndefined();
  });

  it('refuses an address in use with a ListenError carrying the system code', async () => {
    const first = await UdpListener.open({ address: { host: '127.0.0.1', port: 0, family: 'udp4' } });
    opened.push(first);
    const second = UdpListener.open({ address: { host: '127.0.0.1', port: first.address.port, family: 'udp4' } });
    await expect(second).rejects.toBeInstanceOf(ListenError);
    await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
