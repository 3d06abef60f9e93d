// Counts what actually crosses the wire, every copy included (a gossipsub forward as much as a
// publish). It plugs into libp2p as its `metrics` component, whose two tracking hooks are the only
// places that see every connection and every protocol stream; every other metric libp2p asks for
// is a no-op. Two levels:
// - sockets: TCP bytes written and read (Node's bytesWritten/bytesRead), all protocols with
//   Noise, yamux and multistream framing; read when asked, nothing per message;
// - protocol streams: bytes handed to / read from each stream (above yamux and Noise), and the
//   length-prefixed messages in them (sync frames, gossipsub RPCs), per protocol family.

import type { Metrics, MultiaddrConnection, Stream } from '@libp2p/interface';

/** Counters of one protocol family, above the muxer. */
export interface ProtocolWireStats {
  sentBytes: number;
  receivedBytes: number;
  /** Length-prefixed messages (sync frames, gossipsub RPCs); 0 for other protocols. */
  sentMessages: number;
  receivedMessages: number;
}

export interface WireStats {
  /** TCP payload bytes written / read: every protocol, every copy, Noise and yamux included. */
  sentBytes: number;
  receivedBytes: number;
  /** Direct sync streams (/agentmesh/sync/1.0.0). */
  sync: ProtocolWireStats;
  /** gossipsub (publishes, forwards, control traffic). */
  gossip: ProtocolWireStats;
  /** identify, peer exchange and anything else. */
  other: ProtocolWireStats;
  /** TCP connections counted so far (open or closed). */
  connections: number;
}

type Family = 'sync' | 'gossip' | 'other';

/** Counts varint length-prefixed messages in a byte stream without copying or decoding them. */
export class PrefixCounter {
  private skip = 0;
  private header = 0;
  private shift = 1;
  private headerBytes = 0;
  private broken = false;

  /** Whole message headers seen in `chunk` (a message is counted when its header is complete). */
  count(chunk: Uint8Array | Iterable<Uint8Array>): number {
    if (this.broken) return 0;
    if (chunk instanceof Uint8Array) return this.countBuf(chunk);
    let n = 0;
    for (const b of chunk) n += this.countBuf(b);
    return n;
  }

  private countBuf(buf: Uint8Array): number {
    let n = 0;
    let i = 0;
    const len = buf.byteLength;
    while (i < len && !this.broken) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, len - i);
        this.skip -= take;
        i += take;
        continue;
      }
      const b = buf[i++]!;
      this.header += (b & 0x7f) * this.shift;
      this.shift *= 0x80;
      if (b & 0x80) {
        if (++this.headerBytes >= 8) this.broken = true;
        continue;
      }
      n++;
      this.skip = this.header;
      this.header = 0;
      this.shift = 1;
      this.headerBytes = 0;
    }
    return n;
  }
}

interface SocketLike {
  bytesWritten: number;
  bytesRead: number;
}

const isSocket = (s: unknown): s is SocketLike =>
  typeof s === 'object' && s !== null && typeof (s as SocketLike).bytesWritten === 'number' && typeof (s as SocketLike).bytesRead === 'number';

const NOOP = {
  update() {},
  increment() {},
  decrement() {},
  reset() {},
  observe() {},
  timer() {
    return () => {};
  },
};

function emptyProtocol(): ProtocolWireStats {
  return { sentBytes: 0, receivedBytes: 0, sentMessages: 0, receivedMessages: 0 };
}

export class WireMeter implements Metrics {
  private readonly sockets = new Set<SocketLike>();
  private closedSent = 0;
  private closedReceived = 0;
  private connections = 0;
  private readonly families: Record<Family, ProtocolWireStats> = { sync: emptyProtocol(), gossip: emptyProtocol(), other: emptyProtocol() };

  /** Told of every TCP connection as it opens (silent-links.ts watches what arrives on it). */
  onConnection: ((conn: MultiaddrConnection, socket: SocketLike) => void) | undefined;

  /** @param syncProtocol the direct sync protocol; gossipsub's are recognised by name. */
  constructor(private readonly syncProtocol: string) {}

  snapshot(): WireStats {
    let sent = this.closedSent;
    let received = this.closedReceived;
    for (const s of this.sockets) {
      sent += s.bytesWritten;
      received += s.bytesRead;
    }
    return {
      sentBytes: sent,
      receivedBytes: received,
      sync: { ...this.families.sync },
      gossip: { ...this.families.gossip },
      other: { ...this.families.other },
      connections: this.connections,
    };
  }

  trackMultiaddrConnection(maConn: MultiaddrConnection): void {
    const socket = (maConn as unknown as { socket?: unknown }).socket;
    if (!isSocket(socket)) return;
    this.connections++;
    this.sockets.add(socket);
    this.onConnection?.(maConn, socket);
    maConn.addEventListener('close', () => {
      if (!this.sockets.delete(socket)) return;
      this.closedSent += socket.bytesWritten;
      this.closedReceived += socket.bytesRead;
    });
  }

  trackProtocolStream(stream: Stream): void {
    const p = stream.protocol;
    const family: Family = p === this.syncProtocol ? 'sync' : p.startsWith('/meshsub/') || p.startsWith('/floodsub/') ? 'gossip' : 'other';
    const c = this.families[family];
    const framed = family !== 'other';
    const out = framed ? new PrefixCounter() : undefined;
    const inn = framed ? new PrefixCounter() : undefined;
    const send = stream.send.bind(stream);
    stream.send = (data) => {
      c.sentBytes += data.byteLength;
      if (out) c.sentMessages += out.count(data);
      return send(data);
    };
    const s = stream as unknown as { onData?: (data: Uint8Array | Iterable<Uint8Array>) => void; readBuffer?: { byteLength: number } & Iterable<Uint8Array> };
    const onData = s.onData;
    if (typeof onData !== 'function') return;
    // What arrived while libp2p negotiated the protocol and had not yet handed the stream on.
    const early = s.readBuffer;
    if (early && early.byteLength > 0) {
      c.receivedBytes += early.byteLength;
      if (inn) c.receivedMessages += inn.count(early);
    }
    s.onData = (data) => {
      c.receivedBytes += (data as Uint8Array).byteLength;
      if (inn) c.receivedMessages += inn.count(data);
      onData.call(stream, data);
    };
  }

  // Everything else libp2p may register is not kept.
  registerMetric = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerMetric'];
  registerMetricGroup = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerMetricGroup'];
  registerCounter = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerCounter'];
  registerCounterGroup = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerCounterGroup'];
  registerHistogram = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerHistogram'];
  registerHistogramGroup = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerHistogramGroup'];
  registerSummary = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerSummary'];
  registerSummaryGroup = ((_name: string, opts?: unknown) => (hasCalculate(opts) ? undefined : NOOP)) as Metrics['registerSummaryGroup'];
  traceFunction = (<F>(_name: string, fn: F) => fn) as Metrics['traceFunction'];
  createTrace(): undefined {
    return undefined;
  }
}

function hasCalculate(opts: unknown): boolean {
  return typeof opts === 'object' && opts !== null && typeof (opts as { calculate?: unknown }).calculate === 'function';
}
