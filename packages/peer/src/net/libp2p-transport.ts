// The real network under a peer: a libp2p node (node.ts) wrapped as the `Transport` the sync
// engine speaks. MeshTransport is a facade that wires focused parts, each built the js-libp2p way
// (`(init) => (components) => Service`, see service.ts) and owning its own state:
//
// - sync-streams.ts: send(), one framed direct stream per peer on /agentmesh/sync/1.0.0, with
//   per-peer queues and backpressure;
// - broadcast(): by default ('direct' fan-out) one framed send on every connected peer's direct
//   stream; with a gossipsub fan-out, gossip.ts (topic 'agentmesh/sync/1', direct sends to peers
//   gossipsub did not reach, large broadcasts always direct);
// - wire-meter.ts: bytes and messages on the wire, every copy included (libp2p's metrics hook);
// - silent-links.ts: a connection on which nothing has arrived for 20 s is closed (a dead link);
// - connections.ts: the connected set, bootstrap dials and redials of lost peers with one
//   backoff (backoff.ts), and the address book (address-book.ts);
// - peer-exchange.ts: /agentmesh/px/1.0.0, neighbours' addresses so a full mesh forms through one
//   bootstrap peer;
// - partition-gater.ts: block()/unblockAll() for partition tests (connection gater + gossip);
// - diagnostics.ts: refused connections and a mesh-secret mismatch (pnet-guard.ts) as warnings;
// - inbox.ts: the sync engine's handlers, and messages that arrived before it set them.
//
// Time comes only from the injected clock (default systemClock); logs go to the project Logger.

import './polyfill.js';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { PeerId } from '@libp2p/interface';
import { MeshError } from '@agentmesh/scheduler';
import { systemClock } from '../clock.js';
import { silentLogger } from '../logger.js';
import type { Transport, TransportHandlers } from '../transport.js';
import { connections, type Connections } from './connections.js';
import { diagnostics, errText, type Diagnostics } from './diagnostics.js';
import { gossip, type Gossip } from './gossip.js';
import { Inbox } from './inbox.js';
import { peerIdOfKey } from './keys.js';
import { MeshLog } from './mesh-log.js';
import { createMeshNode } from './node.js';
import { validateOptions, type MeshTransportOptions } from './options.js';
import { PartitionGater } from './partition-gater.js';
import { peerExchange, type PeerExchange } from './peer-exchange.js';
import { emptyStats, type MeshComponents, type MeshNode, type MeshTransportStats, type Startable } from './service.js';
import { SYNC_PROTOCOL, syncStreams, type SyncStreams } from './sync-streams.js';
import type { Fanout } from './options.js';
import { WireMeter, type WireStats } from './wire-meter.js';
import { SilentLinks } from './silent-links.js';

export { generatePeerKey, peerKeyToBytes, peerKeyFromBytes, peerIdOfKey, pskFromSecret, type PrivateKey } from './keys.js';
export { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_FANOUT, FANOUTS, type Fanout, type MeshTransportOptions } from './options.js';
export type { WireStats, ProtocolWireStats } from './wire-meter.js';
export type { MeshTransportStats } from './service.js';
export { SYNC_PROTOCOL } from './sync-streams.js';
export { PX_PROTOCOL } from './peer-exchange.js';
export { SYNC_TOPIC } from './gossip.js';

/** Creates and starts a libp2p node and wraps it as a Transport. */
export async function createMeshTransport(opts: MeshTransportOptions): Promise<MeshTransport> {
  const { listen, bootstrap, maxMessageBytes, fanout } = validateOptions(opts);
  const blocked = new Set<string>();
  const meter = new WireMeter(SYNC_PROTOCOL);
  const admits = membership(opts);
  // The node is created before the transport exists; its reports are routed once it does.
  let t: MeshTransport | undefined;
  const node = await createMeshNode({
    privateKey: opts.privateKey,
    listen,
    ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
    gater: new PartitionGater(blocked, admits).connectionGater(),
    onLibp2pError: (component, format, args) => t?.onLibp2pError(component, format, args),
    onSecretRefused: (info) => t?.onSecretRefused(info),
    fanout,
    meter,
  });
  t = new MeshTransport(node, { ...opts, maxMessageBytes, fanout, ...(admits ? { admits } : {}) }, blocked, bootstrap, meter);
  await t.start();
  return t;
}

export class MeshTransport implements Transport {
  readonly localId: string;
  readonly maxMessageBytes: number;
  /** How broadcast() reaches the peers. */
  readonly fanout: Fanout;
  private readonly log: MeshLog;
  private readonly counters = emptyStats();
  private readonly gater: PartitionGater;
  private readonly inbox: Inbox;
  private readonly diagnostics: Diagnostics;
  private readonly connections: Connections;
  private readonly streams: SyncStreams;
  private readonly gossip: Gossip | undefined;
  private readonly px: PeerExchange;
  private readonly silent: SilentLinks;
  private closing: Promise<void> | undefined;

  /** Use createMeshTransport(). */
  constructor(
    private readonly node: MeshNode,
    private readonly opts: MeshTransportOptions & { maxMessageBytes: number; fanout: Fanout },
    blockedSet: Set<string>,
    bootstrap: Multiaddr[],
    private readonly meter: WireMeter = new WireMeter(SYNC_PROTOCOL),
  ) {
    this.localId = peerIdOfKey(opts.privateKey);
    this.maxMessageBytes = opts.maxMessageBytes;
    this.fanout = opts.fanout;
    const clock = opts.clock ?? systemClock;
    this.log = new MeshLog(opts.logger ?? silentLogger, clock);
    const base: MeshComponents = { node, clock, log: this.log, stats: this.counters, localId: this.localId };
    const gater = (this.gater = new PartitionGater(blockedSet, opts.admits));
    const inbox = (this.inbox = new Inbox(base));
    this.diagnostics = diagnostics({ privateMesh: opts.secret !== undefined })(base);
    const silent = (this.silent = new SilentLinks(base));
    meter.onConnection = (conn, socket) => silent.track(conn, socket);
    const conns = (this.connections = connections({ bootstrap })({ ...base, gater }));
    const streams = (this.streams = syncStreams({ maxMessageBytes: this.maxMessageBytes })({ ...base, gater, inbox }));
    this.gossip =
      opts.fanout === 'direct' ? undefined : gossip({ maxMessageBytes: this.maxMessageBytes, mode: opts.fanout })({ ...base, gater, inbox, streams, connections: conns });
    const px = (this.px = peerExchange()({ ...base, gater, connections: conns }));
    conns.on('gone', (id) => {
      streams.drop(id, 'peer disconnected');
      px.forget(id);
    });
    conns.on('connect', (id) => {
      inbox.connect(id);
      px.schedule();
    });
    conns.on('disconnect', (id) => {
      inbox.disconnect(id);
      px.schedule();
    });
  }

  private get services(): Startable[] {
    return [this.connections, this.streams, this.px, ...(this.gossip ? [this.gossip] : []), this.diagnostics, this.silent];
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** @internal called once by createMeshTransport. */
  async start(): Promise<void> {
    for (const s of this.services) await s.start?.();
    try {
      await this.node.start();
    } catch (e) {
      try {
        await this.node.stop();
      } catch {
        // already failing; report the start error
      }
      throw e;
    }
    this.gossip?.afterStart();
    this.log.log('info', 'mesh transport listening', { id: this.localId, addrs: this.multiaddrs(), private: this.opts.secret !== undefined, fanout: this.fanout });
    this.connections.afterStart();
    this.px.afterStart();
  }

  /** Stops libp2p and every timer. Idempotent; later sends are dropped. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      for (const s of this.services) s.stop?.();
      this.inbox.close();
      try {
        await this.node.stop();
      } catch (e) {
        this.log.log('warn', 'error while stopping libp2p', { error: errText(e) });
      }
      for (const s of this.services) s.afterStop?.();
      this.log.log('info', 'mesh transport closed', { id: this.localId });
    })();
    return this.closing;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  // ---- Transport -----------------------------------------------------------------------------------

  connectedPeers(): string[] {
    return this.connections.peers();
  }

  setHandlers(h: TransportHandlers): void {
    this.inbox.setHandlers(h);
  }

  /** Queues `data` for `to` on the direct stream. Never throws; drops (and counts) what it cannot send. */
  send(to: string, data: Uint8Array): void {
    if (this.closing) return;
    this.streams.send(to, data);
  }

  /**
   * Sends `data` to every connected peer: one framed send on each direct stream (the buffer framed
   * once), or with a gossipsub fan-out a publish (peers it did not reach get it directly).
   * Never throws; drops (and counts) what it cannot send.
   */
  broadcast(data: Uint8Array): void {
    if (this.closing) return;
    const peers = this.connections.peers();
    if (peers.length === 0) return;
    this.counters.broadcasts++;
    if (this.gossip) this.gossip.broadcast(data);
    else this.streams.sendToAll(peers, data);
  }

  // ---- extras ----------------------------------------------------------------------------------------

  /** Addresses others can dial, each with /p2p/<our id>. */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((m) => m.toString());
  }

  /**
   * The transport's counters, and the wire totals: wireSentBytes/wireReceivedBytes are TCP bytes
   * (every protocol, every copy, Noise and yamux included); wireSentMessages/wireReceivedMessages
   * the length-prefixed messages on sync and gossipsub streams (sync frames, gossipsub RPCs).
   */
  stats(): MeshTransportStats & { wireSentBytes: number; wireReceivedBytes: number; wireSentMessages: number; wireReceivedMessages: number } {
    const w = this.meter.snapshot();
    return {
      ...this.counters,
      wireSentBytes: w.sentBytes,
      wireReceivedBytes: w.receivedBytes,
      wireSentMessages: w.sync.sentMessages + w.gossip.sentMessages,
      wireReceivedMessages: w.sync.receivedMessages + w.gossip.receivedMessages,
    };
  }

  /**
   * What crossed the wire, per level and protocol family (see wire-meter.ts), the fan-out, and how
   * many connections were closed because no byte arrived for a while (silent-links.ts).
   */
  wireStats(): WireStats & { fanout: Fanout; silentClosed: number } {
    return { ...this.meter.snapshot(), fanout: this.fanout, silentClosed: this.silent.aborted };
  }

  blocked(): string[] {
    return this.gater.list();
  }

  /**
   * Partitions this peer from `peerIds`: hangs up, refuses their connections and our dials to
   * them, drops their direct messages and gossip. Resolves once the hang-ups are done.
   */
  async block(peerIds: string[]): Promise<void> {
    if (!Array.isArray(peerIds)) throw new MeshError('INVALID_ARGUMENT', 'block needs an array of peer ids');
    const ids: PeerId[] = peerIds.map((id) => {
      try {
        return peerIdFromString(String(id));
      } catch {
        throw new MeshError('INVALID_ARGUMENT', `not a peer id: ${JSON.stringify(id)}`);
      }
    });
    if (this.closing) throw new MeshError('CLOSED', 'transport is closed');
    const hangups: Promise<void>[] = [];
    for (const pid of ids) {
      const id = pid.toString();
      if (id === this.localId) continue;
      this.gater.block(id);
      this.streams.drop(id, 'peer blocked');
      if (this.connections.cut(id)) this.inbox.disconnect(id);
      hangups.push(this.node.hangUp(pid).catch((e) => this.log.log('debug', 'hang-up failed', { peer: id, error: errText(e) })));
    }
    this.log.log('info', 'blocked peers', { peers: ids.map(String) });
    await Promise.all(hangups);
  }

  /**
   * Hangs up on peers that are no longer members (removed: docs/security.md); `admits` already
   * refuses them from now on. Unlike block(), they are not listed as blocked and heal does not
   * bring them back.
   */
  async expel(peerIds: string[]): Promise<void> {
    if (this.closing) return;
    const hangups: Promise<void>[] = [];
    for (const id of peerIds) {
      if (id === this.localId) continue;
      let pid: PeerId;
      try {
        pid = peerIdFromString(id);
      } catch {
        continue;
      }
      this.streams.drop(id, 'peer removed');
      if (this.connections.cut(id)) this.inbox.disconnect(id);
      hangups.push(this.node.hangUp(pid).catch((e) => this.log.log('debug', 'hang-up failed', { peer: id, error: errText(e) })));
    }
    await Promise.all(hangups);
  }

  /** Lifts every block and redials the formerly blocked peers we know addresses for. */
  unblockAll(): void {
    const ids = this.gater.unblockAll();
    if (ids.length) this.log.log('info', 'unblocked peers', { peers: ids });
    if (this.closing) return;
    for (const id of ids) this.connections.redialNow(id);
    this.px.schedule();
  }

  // ---- reports from libp2p -------------------------------------------------------------------------

  /** @internal receives libp2p's error lines (see libp2p-logger.ts). */
  onLibp2pError(component: string, format: string, args: unknown[]): void {
    this.diagnostics.onLibp2pError(component, format, args);
  }

  /** @internal the pnet guard refused a connection (see pnet-guard.ts). */
  onSecretRefused(info: { direction: 'inbound' | 'outbound'; remoteAddr: string | undefined; reason: string }): void {
    this.diagnostics.onSecretRefused(info);
  }
}

/** The transport's `admits`, logging each peer it refuses once (undefined: every peer is admitted). */
function membership(opts: MeshTransportOptions): ((id: string) => boolean) | undefined {
  const given = opts.admits;
  if (!given) return undefined;
  const warned = new Set<string>();
  return (id) => {
    const ok = given(id);
    if (!ok && !warned.has(id) && warned.size < 10_000) {
      warned.add(id);
      opts.logger?.log('warn', 'refused a peer that is not a member (allow-list or removal)', { peer: id });
    }
    return ok;
  };
}
