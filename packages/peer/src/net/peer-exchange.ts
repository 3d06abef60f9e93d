// Peer exchange (/agentmesh/px/1.0.0), so peers that share one bootstrap find each other: each
// neighbour is told the listen addresses (learned through identify) of our other neighbours, as
// one JSON message per stream ({v:1, peers:[{id, addrs}]}, at most 64 KiB, 64 peers, 8 addresses
// each). Sent 50 ms after the neighbourhood changed, and checked every 5 s; a list unchanged since
// it was last sent to that neighbour is resent only every 30 s. What we learn goes to the address
// book, and peers we are not connected to are dialled (by one side first: Connections.dialLearned).

import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Connection, IdentifyResult, Stream, StreamMessageEvent } from '@libp2p/interface';
import type { TimerId } from '../clock.js';
import { MeshError } from '@agentmesh/scheduler';
import { MAX_ADDRS_PER_PEER, isWildcard, peerOfAddr, withPeer } from './address-book.js';
import type { Connections } from './connections.js';
import { errText } from './diagnostics.js';
import type { PartitionGater } from './partition-gater.js';
import type { MeshComponents, Startable } from './service.js';
import { deadline, every, later } from './timers.js';

export const PX_PROTOCOL = '/agentmesh/px/1.0.0';
const MAX_INBOUND_STREAMS = 4;
const PX_DEBOUNCE_MS = 50;
const PX_REFRESH_MS = 5_000;
const PX_CHECK_MS = 250;
/** A peer list unchanged since it was last sent to a neighbour is resent only this often. */
const PX_RESEND_MS = 30_000;
const PX_SEND_TIMEOUT_MS = 5_000;
const PX_READ_TIMEOUT_MS = 5_000;
export const PX_MAX_BYTES = 64 * 1024;
export const PX_MAX_PEERS = 64;

export interface PeerEntry {
  id: string;
  addrs: string[];
}

export function encodePeerList(peers: PeerEntry[]): string {
  return JSON.stringify({ v: 1, peers });
}

/**
 * The usable entries of a received peer list: valid peer ids other than `localId`, each with its
 * addresses that are not wildcards and name no other peer, ending in /p2p/<id>; at most 64 peers
 * and 8 addresses read per peer. Undefined when the bytes are not JSON.
 */
export function decodePeerList(bytes: Uint8Array, localId: string): PeerEntry[] | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  const list = (msg as { peers?: unknown })?.peers;
  if (!Array.isArray(list)) return [];
  const out: PeerEntry[] = [];
  for (const entry of list.slice(0, PX_MAX_PEERS)) {
    const id = (entry as { id?: unknown })?.id;
    const addrs = (entry as { addrs?: unknown })?.addrs;
    if (typeof id !== 'string' || !Array.isArray(addrs) || id === localId) continue;
    try {
      peerIdFromString(id);
    } catch {
      continue;
    }
    const good: string[] = [];
    for (const a of addrs.slice(0, MAX_ADDRS_PER_PEER)) {
      if (typeof a !== 'string') continue;
      try {
        const ma = multiaddr(a);
        const pid = peerOfAddr(ma);
        if (pid !== undefined && pid !== id) continue;
        if (isWildcard(ma)) continue;
        good.push(withPeer(ma, id).toString());
      } catch {
        // skip
      }
    }
    if (good.length > 0) out.push({ id, addrs: good });
  }
  return out;
}

export interface PeerExchangeComponents extends MeshComponents {
  gater: PartitionGater;
  connections: Connections;
}

export class PeerExchange implements Startable {
  /** What was last sent to each neighbour, and when. */
  private readonly sent = new Map<string, { body: string; at: number }>();
  private readonly shutdown = new AbortController();
  private debounce: TimerId | undefined;
  private stopTick: (() => void) | undefined;
  private lastRefresh = 0;
  private stopped = false;

  constructor(private readonly c: PeerExchangeComponents) {}

  async start(): Promise<void> {
    this.c.node.addEventListener('peer:identify', (e) => this.onIdentify(e.detail));
    await this.c.node.handle(PX_PROTOCOL, (stream, conn) => this.onPxStream(stream, conn), { maxInboundStreams: MAX_INBOUND_STREAMS });
  }

  afterStart(): void {
    this.stopTick = every(this.c.clock, PX_CHECK_MS, () => {
      if (!this.stopped && this.c.clock.now() - this.lastRefresh >= PX_REFRESH_MS) this.sendAll();
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopTick?.();
    if (this.debounce !== undefined) this.c.clock.clearTimeout(this.debounce);
    this.stopTick = this.debounce = undefined;
    this.shutdown.abort(new MeshError('CLOSED', 'transport closed'));
  }

  /** The neighbourhood changed: tell everyone soon. */
  schedule(): void {
    if (this.stopped || this.debounce !== undefined) return;
    this.debounce = later(this.c.clock, PX_DEBOUNCE_MS, () => {
      this.debounce = undefined;
      this.sendAll();
    });
  }

  /** The peer left: what we sent it no longer counts. */
  forget(id: string): void {
    this.sent.delete(id);
  }

  private onIdentify(result: IdentifyResult): void {
    const id = result.peerId.toString();
    const addrs = result.listenAddrs.filter((m) => !isWildcard(m)).map((m) => withPeer(m, id).toString());
    if (addrs.length > 0) this.c.connections.addresses.remember(id, addrs, true);
    this.schedule();
  }

  /** Tells every neighbour about our other neighbours (when the list changed, or now and then). */
  private sendAll(): void {
    if (this.stopped) return;
    this.lastRefresh = this.c.clock.now();
    for (const p of this.c.connections.peers()) this.send(p);
  }

  private send(to: string): void {
    const { connections, gater, clock } = this.c;
    const peers: PeerEntry[] = [];
    for (const id of connections.peers()) {
      if (id === to || gater.has(id)) continue;
      const addrs = connections.addresses.get(id);
      if (addrs?.length) peers.push({ id, addrs: [...addrs] });
      if (peers.length >= PX_MAX_PEERS) break;
    }
    if (peers.length === 0) return;
    const body = encodePeerList(peers);
    const now = clock.now();
    const last = this.sent.get(to);
    if (last && last.body === body && now - last.at < PX_RESEND_MS) return;
    this.sent.set(to, { body, at: now });
    void (async () => {
      let stream: Stream | undefined;
      const d = deadline(clock, PX_SEND_TIMEOUT_MS, this.shutdown.signal);
      try {
        const conn = this.c.node.getConnections(peerIdFromString(to)).find((c) => c.status === 'open');
        if (!conn) return;
        stream = await conn.newStream(PX_PROTOCOL, { signal: d.signal });
        stream.send(new TextEncoder().encode(body));
        await stream.close({ signal: d.signal });
      } catch (e) {
        stream?.abort(e instanceof Error ? e : new Error(String(e)));
        this.sent.delete(to);
        if (!this.stopped) this.c.log.log('debug', 'peer exchange send failed', { peer: to, error: errText(e) });
      } finally {
        d.clear();
      }
    })();
  }

  private onPxStream(stream: Stream, conn: Connection): void {
    const from = conn.remotePeer.toString();
    if (this.stopped || this.c.gater.has(from)) {
      stream.abort(new Error('not accepting peer exchange'));
      return;
    }
    const { clock } = this.c;
    const bufs: Uint8Array[] = [];
    let total = 0;
    const timer = later(clock, PX_READ_TIMEOUT_MS, () => stream.abort(new Error('peer exchange read timed out')));
    const finish = () => {
      clock.clearTimeout(timer);
      const all = new Uint8Array(total);
      let o = 0;
      for (const b of bufs) {
        all.set(b, o);
        o += b.byteLength;
      }
      this.receive(from, all);
      void stream.close().catch(() => {});
    };
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      const chunk = evt.data;
      for (const b of chunk instanceof Uint8Array ? [chunk] : chunk) {
        total += b.byteLength;
        if (total > PX_MAX_BYTES) {
          clock.clearTimeout(timer);
          this.c.log.log('warn', 'peer exchange message too large, stream reset', { peer: from, limit: PX_MAX_BYTES });
          stream.abort(new Error('peer exchange message too large'));
          return;
        }
        bufs.push(b.slice());
      }
    });
    stream.addEventListener('remoteCloseWrite', finish, { once: true });
    stream.addEventListener('close', () => clock.clearTimeout(timer), { once: true });
  }

  private receive(from: string, bytes: Uint8Array): void {
    const { connections, gater } = this.c;
    if (this.stopped || gater.has(from)) return;
    const entries = decodePeerList(bytes, this.c.localId);
    if (entries === undefined) {
      this.c.log.log('debug', 'ignoring undecodable peer exchange', { peer: from });
      return;
    }
    for (const { id, addrs } of entries) {
      connections.addresses.remember(id, addrs);
      if (!connections.isConnected(id) && !gater.has(id)) connections.dialLearned(id);
    }
  }
}

export function peerExchange(): (components: PeerExchangeComponents) => PeerExchange {
  return (components) => new PeerExchange(components);
}
