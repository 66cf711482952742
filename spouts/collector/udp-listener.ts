import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { ListenAddress } from './listen-address.js';

/** One datagram as received: its bytes, who sent it (`addr:port`, `[addr]:port` for IPv6) and when (epoch ms). */
export interface ReceivedDatagram {
  readonly data: Buffer;
  readonly exporter: string;
  readonly receivedAtMs: number;
}

/** Datagrams kept between the socket and the consumer by default: about 12 MB of 1,500-byte datagrams. */
export const DEFAULT_MAX_BUFFERED_DATAGRAMS = 8_192;

/**
 * The datagrams received and not yet taken, in arrival order, at most `capacity` of them. UDP
 * cannot be slowed down: when the consumer falls behind and the ring is full, a new datagram is
 * dropped and counted, never queued without bound. Pure: no socket, no clock.
 */
export class DatagramRing {
  private readonly slots: (ReceivedDatagram | undefined)[];
  private head = 0;
  private count = 0;
  /** Datagrams refused because the ring was full. */
  dropped = 0;
  /** Datagrams offered, dropped ones included. */
  offered = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity (${capacity}) must be an integer of at least 1`);
    this.slots = new Array<ReceivedDatagram | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  /** False (and counted as dropped) when full. */
  push(datagram: ReceivedDatagram): boolean {
    this.offered++;
    if (this.count === this.capacity) {
      this.dropped++;
      return false;
    }
    this.slots[(this.head + this.count) % this.capacity] = datagram;
    this.count++;
    return true;
  }

  shift(): ReceivedDatagram | undefined {
    if (this.count === 0) return undefined;
    const datagram = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return datagram;
  }
}

export interface UdpListenerOptions {
  readonly address: ListenAddress;
  /** SO_RCVBUF asked of the kernel, bytes; Linux doubles it and caps it at net.core.rmem_max. Default: the system's. */
  readonly recvBufferSize?: number;
  readonly maxBufferedDatagrams?: number;
  /** Called when a datagram lands in an empty buffer (the consumer may be idle), and once when the listener closes. */
  readonly onReadable?: () => void;
  /** Called when the socket fails after it was bound (rare for UDP); the listener then closes, keeping what it buffered. */
  readonly onError?: (err: Error) => void;
}

/** The socket could not be opened or bound; `code` is the system's (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
export class ListenError extends Error {
  readonly code: string;
  constructor(message: string, options: { code: string; cause: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ListenError';
    this.code = options.code;
  }
}

/**
 * A bound UDP socket feeding a DatagramRing. The consumer takes datagrams with `shift` (or waits
 * with `readable`); `close` stops receiving, and what was buffered stays to be taken, so a stop
 * loses nothing that was received.
 */
export class UdpListener {
  private readonly ring: DatagramRing;
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly address: ListenAddress,
    capacity: number,
    private readonly onReadable: (() => void) | undefined,
  ) {
    this.ring = new DatagramRing(capacity);
    socket.on('message', (data: Buffer, rinfo: RemoteInfo) => this.receive(data, rinfo));
  }

  /** Binds the socket; rejects with ListenError when the address cannot be used. */
  static async open(options: UdpListenerOptions): Promise<UdpListener> {
    const socket = createSocket({ type: options.address.family, ...(options.recvBufferSize !== undefined ? { recvBufferSize: options.recvBufferSize } : {}) });
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => {
        socket.close();
        const code = err.code ?? 'EUNKNOWN';
        reject(new ListenError(`cannot listen on UDP ${options.address.host} port ${options.address.port}: ${err.message}`, { code, cause: err }));
      };
      socket.once('error', fail);
      socket.bind(options.address.port, options.address.host, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    const bound = socket.address();
    const listener = new UdpListener(
      socket,
      { ...options.address, port: bound.port },
      options.maxBufferedDatagrams ?? DEFAULT_MAX_BUFFERED_DATAGRAMS,
      options.onReadable,
    );
    // After bind, a socket error (rare for UDP) ends the socket, not the process: the owner is told.
    socket.on('error', (err) => {
      void listener.close();
      options.onError?.(new ListenError(`UDP socket on ${options.address.host} port ${bound.port} failed: ${err.message}`, { code: (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN', cause: err }));
    });
    return listener;
  }

  private receive(data: Buffer, rinfo: RemoteInfo): void {
    const exporter = rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`;
    const wasEmpty = this.ring.size === 0;
    if (!this.ring.push({ data, exporter, receivedAtMs: Date.now() }) || !wasEmpty) return;
    this.onReadable?.();
    this.wakeWaiters();
  }

  /** The oldest buffered datagram, or undefined when none is buffered. */
  shift(): ReceivedDatagram | undefined {
    return this.ring.shift();
  }

  get buffered(): number {
    return this.ring.size;
  }
  /** Datagrams received, dropped ones included. */
  get received(): number {
    return this.ring.offered;
  }
  /** Datagrams dropped because the buffer was full. */
  get dropped(): number {
    return this.ring.dropped;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** The receive buffer the kernel granted, bytes. */
  recvBufferSize(): number {
    return this.closed ? 0 : this.socket.getRecvBufferSize();
  }

  /** Resolves when a datagram is buffered or the listener is closed (at once if either holds). */
  readable(): Promise<void> {
    if (this.ring.size > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops receiving; buffered datagrams stay to be taken. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.onReadable?.();
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
