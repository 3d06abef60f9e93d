// The real network under a peer: a libp2p node (TCP, Noise, Yamux, identify, gossipsub, and a pnet
// private network when a mesh secret is set) wrapped as the `Transport` the sync engine speaks.
//
// - send(): one long-lived direct stream per remote peer on /agentmesh/sync/1.0.0, opened lazily
//   and reopened after an error; messages are varint-length framed (framing.ts), queued per peer
//   and written with the stream's backpressure (send() -> false, then onDrain()).
// - broadcast(): gossipsub topic 'agentmesh/sync/1' (@libp2p/gossipsub 17, which does see
//   subscribers under libp2p 3). gossipsub only reaches peers whose subscription it has already
//   learned, which lags a fresh connection, so every connected peer that is not among the
//   publish's recipients gets the message directly as well (duplicates are harmless to Yjs).
//   Broadcasts over 1 MiB always go direct: gossipsub's RPC reader caps a frame at 4 MiB.
// - discovery: bootstrap addresses are dialled at start and redialled with backoff (1 s doubling
//   to 5 s) while not connected; peers that drop are redialled the same way for 30 s (a connection
//   that dies within 2 s counts as a failed dial, so a peer that gates us is not redialled in a
//   tight loop); a small peer exchange (/agentmesh/px/1.0.0) tells each neighbour the listen
//   addresses of our other neighbours (learned through identify), so peers sharing one bootstrap
//   find each other.
// - partitions for tests: block() hangs up and gates peers in both directions (connection gater)
//   and drops their gossip, including gossip relayed by third peers; a real partition blocks on
//   both sides. unblockAll() lifts that and redials them.
// - mesh secret: pnet plus a marker check (pnet-guard.ts) so a mismatch fails at once on both sides
//   and is logged as a warning with the remote address. Other refused inbound handshakes are only
//   reported through libp2p's logger, so the node gets one (libp2p-logger.ts) that surfaces them.

import './polyfill.js';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { gossipsub, type GossipSub, type GossipsubMessage } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Connection, IdentifyResult, PeerId, PrivateKey, Stream, StreamMessageEvent } from '@libp2p/interface';
import { MeshError } from '@agentmesh/scheduler';
import type { Transport, TransportHandlers } from '../transport.js';
import { FrameDecoder, encodeFrameHeader } from './framing.js';
import { errorCapturingLogger, formatLibp2pLine } from './libp2p-logger.js';
import { peerIdOfKey, pskFromSecret } from './keys.js';
import { guardedPreSharedKey, type RefusedHandler } from './pnet-guard.js';

export { generatePeerKey, peerKeyToBytes, peerKeyFromBytes, peerIdOfKey, pskFromSecret, type PrivateKey } from './keys.js';

export const SYNC_PROTOCOL = '/agentmesh/sync/1.0.0';
export const PX_PROTOCOL = '/agentmesh/px/1.0.0';
export const SYNC_TOPIC = 'agentmesh/sync/1';
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Broadcasts larger than this skip gossipsub (its RPC reader refuses frames over 4 MiB). */
const GOSSIP_MAX_BYTES = 1024 * 1024;
const DIAL_TIMEOUT_MS = 5_000;
const STREAM_OPEN_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 30_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 5_000;
const MAINTENANCE_MS = 250;
const PX_DEBOUNCE_MS = 50;
const PX_REFRESH_MS = 5_000;
/** A peer list unchanged since it was last sent to a neighbour is resent only this often. */
const PX_RESEND_MS = 30_000;
const PX_MAX_BYTES = 64 * 1024;
const PX_MAX_PEERS = 64;
const PX_MAX_ADDRS = 8;
const PX_READ_TIMEOUT_MS = 5_000;
const KNOWN_PEERS_MAX = 1024;
/** Peers that dropped are redialled (with backoff) for this long. */
const LOST_REDIAL_MS = 30_000;
/**
 * A connection that dies sooner than this counts as a failed dial for the backoff: a peer that
 * blocks us (gater) lets the dialer finish its side of the upgrade and then drops the connection,
 * and without this the dialer would reconnect and flap every maintenance tick.
 */
const STABLE_MS = 2_000;
/** One warning per kind and remote host this often; the rest go to debug. */
const WARN_INTERVAL_MS = 10_000;
/** Messages that arrive before setHandlers() are kept (bounded) and delivered then. */
const EARLY_MAX_MESSAGES = 256;
const EARLY_MAX_BYTES = 16 * 1024 * 1024;

export type MeshLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type MeshLogFn = (level: MeshLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface MeshTransportOptions {
  /** The peer's identity (Ed25519); the same key gives the same peer id. */
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. ['/ip4/127.0.0.1/tcp/0']. */
  listen: string[];
  /** Multiaddrs of peers to join through, each ending in /p2p/<peer id>. */
  bootstrap?: string[];
  /** Mesh secret: when set, only peers with the same secret can connect (libp2p pnet). */
  secret?: string;
  log?: MeshLogFn;
  /** Largest message sent or accepted; larger direct frames reset the stream. Default 64 MiB. */
  maxMessageBytes?: number;
}

export interface MeshTransportStats {
  /** Messages handed to the network (direct frames + gossip publishes). */
  sentMessages: number;
  sentBytes: number;
  /** Messages delivered to the handlers (direct + gossip). */
  receivedMessages: number;
  receivedBytes: number;
  gossipPublished: number;
  gossipReceived: number;
  /** Broadcast copies sent directly because gossipsub did not (yet) list the peer as a recipient. */
  directFallbacks: number;
  /** Messages dropped locally (oversize, queue full, peer unreachable, stream error). */
  dropped: number;
  /** Inbound frames refused for being over maxMessageBytes (or malformed). */
  rejectedFrames: number;
  /** Inbound connections refused during the handshake (wrong or missing secret). */
  refusedConnections: number;
  /** Gossip messages ignored because they came from a blocked peer. */
  ignoredGossip: number;
  streamsOpened: number;
  streamErrors: number;
  /** Times a direct stream said "full" and the sender waited for it to drain. */
  backpressureWaits: number;
}

interface OutChannel {
  peer: string;
  stream: Stream | undefined;
  queue: Uint8Array[];
  queuedBytes: number;
  pumping: boolean;
}

interface Backoff {
  delay: number;
  nextAt: number;
}

type Services = { identify: Identify; pubsub: GossipSub };

const CODE_P2P = 421;

function peerOfAddr(ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.code === CODE_P2P)?.value;
}

function hostOfAddr(addr: string | undefined): string {
  if (!addr) return 'unknown';
  try {
    const c = multiaddr(addr).getComponents()[0];
    return c?.value ?? addr;
  } catch {
    return addr;
  }
}

function isWildcard(ma: Multiaddr): boolean {
  const c = ma.getComponents()[0];
  return c?.value === '0.0.0.0' || c?.value === '::';
}

function errText(e: unknown): string {
  if (e instanceof AggregateError) return e.errors.map(errText).join('; ') || e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function errNames(e: unknown): string[] {
  if (e instanceof AggregateError) return [e.name, ...e.errors.flatMap(errNames)];
  if (e instanceof Error) return [e.name];
  return [];
}

/** Errors that mean the security handshake (pnet + Noise) failed, i.e. likely a secret mismatch. */
function isHandshakeFailure(e: unknown): boolean {
  return errNames(e).some((n) => n === 'EncryptionFailedError' || n === 'InvalidCryptoExchangeError' || n === 'UnexpectedPeerError');
}

function validateOptions(opts: MeshTransportOptions): { listen: Multiaddr[]; bootstrap: Multiaddr[]; maxMessageBytes: number } {
  if (opts === null || typeof opts !== 'object') throw new MeshError('INVALID_ARGUMENT', 'options are required');
  const key = opts.privateKey as PrivateKey | undefined;
  if (!key || typeof key !== 'object' || key.type !== 'Ed25519') throw new MeshError('INVALID_ARGUMENT', 'privateKey must be an Ed25519 private key (see generatePeerKey)');
  if (!Array.isArray(opts.listen)) throw new MeshError('INVALID_ARGUMENT', 'listen must be an array of multiaddrs');
  const parse = (s: unknown, what: string): Multiaddr => {
    if (typeof s !== 'string' || s.length === 0) throw new MeshError('INVALID_ARGUMENT', `${what} must be a multiaddr string`);
    try {
      return multiaddr(s);
    } catch (e) {
      throw new MeshError('INVALID_ARGUMENT', `${what} ${JSON.stringify(s)} is not a valid multiaddr: ${(e as Error).message}`);
    }
  };
  const listen = opts.listen.map((s) => parse(s, 'listen address'));
  if (opts.bootstrap !== undefined && !Array.isArray(opts.bootstrap)) throw new MeshError('INVALID_ARGUMENT', 'bootstrap must be an array of multiaddrs');
  const bootstrap = (opts.bootstrap ?? []).map((s) => {
    const ma = parse(s, 'bootstrap address');
    const id = peerOfAddr(ma);
    if (!id) throw new MeshError('INVALID_ARGUMENT', `bootstrap address ${s} must end in /p2p/<peer id>`);
    try {
      peerIdFromString(id);
    } catch {
      throw new MeshError('INVALID_ARGUMENT', `bootstrap address ${s} has an invalid peer id`);
    }
    return ma;
  });
  if (opts.secret !== undefined && (typeof opts.secret !== 'string' || opts.secret.length === 0)) {
    throw new MeshError('INVALID_ARGUMENT', 'secret must be a non-empty string when given');
  }
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) throw new MeshError('INVALID_ARGUMENT', 'maxMessageBytes must be a positive integer');
  if (opts.log !== undefined && typeof opts.log !== 'function') throw new MeshError('INVALID_ARGUMENT', 'log must be a function');
  return { listen, bootstrap, maxMessageBytes };
}

/** Creates and starts a libp2p node and wraps it as a Transport. */
export async function createMeshTransport(opts: MeshTransportOptions): Promise<MeshTransport> {
  const { listen, bootstrap, maxMessageBytes } = validateOptions(opts);
  const blocked = new Set<string>();
  // The logger is created before the transport exists; its lines are routed once it does.
  let sink: ((component: string, format: string, args: unknown[]) => void) | undefined;
  let refused: RefusedHandler | undefined;
  const node = await createLibp2p<Services>({
    start: false,
    privateKey: opts.privateKey,
    addresses: { listen: listen.map((m) => m.toString()) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(opts.secret !== undefined ? { connectionProtector: guardedPreSharedKey(pskFromSecret(opts.secret), (info) => refused?.(info)) } : {}),
    connectionGater: {
      denyDialPeer: (peer: PeerId) => blocked.has(peer.toString()),
      denyDialMultiaddr: (ma: Multiaddr) => {
        const id = peerOfAddr(ma);
        return id !== undefined && blocked.has(id);
      },
      denyInboundEncryptedConnection: (peer: PeerId) => blocked.has(peer.toString()),
      denyOutboundEncryptedConnection: (peer: PeerId) => blocked.has(peer.toString()),
    },
    logger: errorCapturingLogger((component, format, args) => sink?.(component, format, args)),
    services: {
      identify: identify(),
      pubsub: gossipsub({
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        floodPublish: true,
      }),
    },
  });
  const t = new MeshTransport(node, { ...opts, maxMessageBytes }, blocked, bootstrap);
  sink = (component, format, args) => t.onLibp2pError(component, format, args);
  refused = (info) => t.onSecretRefused(info);
  await t.start();
  return t;
}

export class MeshTransport implements Transport {
  readonly localId: string;
  readonly maxMessageBytes: number;
  private handlers: TransportHandlers | undefined;
  private early: { from: string; data: Uint8Array }[] = [];
  private earlyBytes = 0;
  private readonly connected = new Set<string>();
  private readonly outs = new Map<string, OutChannel>();
  private readonly knownAddrs = new Map<string, string[]>();
  private readonly bootstrapIds = new Set<string>();
  private readonly lost = new Map<string, number>();
  private readonly connectedAt = new Map<string, number>();
  private readonly dialing = new Set<string>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly pxSent = new Map<string, { body: string; at: number }>();
  private readonly warned = new Map<string, number>();
  private readonly seenErrors = new WeakSet<object>();
  private readonly stopController = new AbortController();
  private readonly maxQueueBytes: number;
  private readonly logFn: MeshLogFn;
  private maintenanceTimer: ReturnType<typeof setInterval> | undefined;
  private pxTimer: ReturnType<typeof setTimeout> | undefined;
  private lastPxRefresh = 0;
  private closing: Promise<void> | undefined;
  private readonly counters: MeshTransportStats = {
    sentMessages: 0,
    sentBytes: 0,
    receivedMessages: 0,
    receivedBytes: 0,
    gossipPublished: 0,
    gossipReceived: 0,
    directFallbacks: 0,
    dropped: 0,
    rejectedFrames: 0,
    refusedConnections: 0,
    ignoredGossip: 0,
    streamsOpened: 0,
    streamErrors: 0,
    backpressureWaits: 0,
  };

  /** Use createMeshTransport(). */
  constructor(
    private readonly node: Libp2p<Services>,
    private readonly opts: MeshTransportOptions & { maxMessageBytes: number },
    private readonly blockedSet: Set<string>,
    bootstrap: Multiaddr[],
  ) {
    this.localId = peerIdOfKey(opts.privateKey);
    this.maxMessageBytes = opts.maxMessageBytes;
    this.maxQueueBytes = Math.max(2 * this.maxMessageBytes, 8 * 1024 * 1024);
    this.logFn = opts.log ?? (() => {});
    for (const ma of bootstrap) {
      const id = peerOfAddr(ma)!;
      if (id === this.localId) continue;
      this.bootstrapIds.add(id);
      this.rememberAddrs(id, [ma.toString()]);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** @internal called once by createMeshTransport. */
  async start(): Promise<void> {
    const node = this.node;
    node.addEventListener('peer:connect', (e) => this.onPeerConnect(e.detail));
    node.addEventListener('peer:disconnect', (e) => this.onPeerDisconnect(e.detail.toString()));
    node.addEventListener('peer:identify', (e) => this.onIdentify(e.detail));
    await node.handle(SYNC_PROTOCOL, (stream, conn) => this.onSyncStream(stream, conn), { maxInboundStreams: 8 });
    await node.handle(PX_PROTOCOL, (stream, conn) => this.onPxStream(stream, conn), { maxInboundStreams: 4 });
    try {
      await node.start();
    } catch (e) {
      try {
        await node.stop();
      } catch {
        // already failing; report the start error
      }
      throw e;
    }
    const pubsub = node.services.pubsub;
    pubsub.addEventListener('gossipsub:message', (e) => this.onGossip(e.detail));
    pubsub.subscribe(SYNC_TOPIC);
    this.log('info', 'mesh transport listening', { id: this.localId, addrs: this.multiaddrs(), private: this.opts.secret !== undefined });
    for (const id of this.bootstrapIds) this.tryDial(id);
    this.maintenanceTimer = setInterval(() => this.maintain(), MAINTENANCE_MS);
    this.maintenanceTimer.unref?.();
  }

  /** Stops libp2p and every timer. Idempotent; later sends are dropped. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.maintenanceTimer !== undefined) clearInterval(this.maintenanceTimer);
      if (this.pxTimer !== undefined) clearTimeout(this.pxTimer);
      this.maintenanceTimer = this.pxTimer = undefined;
      this.stopController.abort(new MeshError('CLOSED', 'transport closed'));
      for (const out of this.outs.values()) {
        out.queue = [];
        out.queuedBytes = 0;
      }
      this.outs.clear();
      this.early = [];
      try {
        await this.node.stop();
      } catch (e) {
        this.log('warn', 'error while stopping libp2p', { error: errText(e) });
      }
      this.connected.clear();
      this.log('info', 'mesh transport closed', { id: this.localId });
    })();
    return this.closing;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  // ---- Transport -----------------------------------------------------------------------------------

  connectedPeers(): string[] {
    return [...this.connected];
  }

  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const m of early) this.callHandler('message', m.from, m.data);
  }

  /** Queues `data` for `to` on the direct stream. Never throws; drops (and counts) what it cannot send. */
  send(to: string, data: Uint8Array): void {
    if (this.closing) return;
    if (typeof to !== 'string' || !(data instanceof Uint8Array)) {
      this.drop('send needs a peer id string and a Uint8Array', { to: String(to) });
      return;
    }
    if (to === this.localId || this.blockedSet.has(to)) {
      this.counters.dropped++;
      return;
    }
    if (data.byteLength > this.maxMessageBytes) {
      this.drop('message over maxMessageBytes not sent', { to, bytes: data.byteLength, limit: this.maxMessageBytes }, 'warn');
      return;
    }
    let out = this.outs.get(to);
    if (!out) {
      out = { peer: to, stream: undefined, queue: [], queuedBytes: 0, pumping: false };
      this.outs.set(to, out);
    }
    if (out.queuedBytes + data.byteLength > this.maxQueueBytes) {
      this.drop('send queue full, message dropped', { to, queued: out.queuedBytes, bytes: data.byteLength }, 'warn');
      return;
    }
    out.queue.push(data);
    out.queuedBytes += data.byteLength;
    void this.pump(out);
  }

  /** Publishes on the gossipsub topic; connected peers gossipsub did not reach get it directly. */
  broadcast(data: Uint8Array): void {
    if (this.closing) return;
    if (!(data instanceof Uint8Array)) {
      this.drop('broadcast needs a Uint8Array');
      return;
    }
    if (data.byteLength > this.maxMessageBytes) {
      this.drop('broadcast over maxMessageBytes not sent', { bytes: data.byteLength, limit: this.maxMessageBytes }, 'warn');
      return;
    }
    const peers = this.connectedPeers();
    if (peers.length === 0) return;
    if (data.byteLength > GOSSIP_MAX_BYTES) {
      for (const p of peers) this.send(p, data);
      return;
    }
    let published: Promise<{ recipients: PeerId[] }>;
    try {
      published = this.node.services.pubsub.publish(SYNC_TOPIC, data);
    } catch (e) {
      published = Promise.reject(e);
    }
    published.then(
      (res) => {
        this.counters.gossipPublished++;
        this.counters.sentMessages++;
        this.counters.sentBytes += data.byteLength;
        const reached = new Set(res.recipients.map((p) => p.toString()));
        for (const p of this.connectedPeers()) {
          if (reached.has(p)) continue;
          this.counters.directFallbacks++;
          this.send(p, data);
        }
      },
      (e) => {
        if (this.closing) return;
        this.log('debug', 'gossipsub publish failed; sending directly', { error: errText(e) });
        for (const p of this.connectedPeers()) {
          this.counters.directFallbacks++;
          this.send(p, data);
        }
      },
    );
  }

  // ---- extras ----------------------------------------------------------------------------------------

  /** Addresses others can dial, each with /p2p/<our id>. */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((m) => m.toString());
  }

  stats(): MeshTransportStats {
    return { ...this.counters };
  }

  blocked(): string[] {
    return [...this.blockedSet];
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
      this.blockedSet.add(id);
      this.lost.delete(id);
      this.dropChannel(id, 'peer blocked');
      if (this.connected.delete(id)) this.callHandler('disconnect', id);
      this.connectedAt.delete(id);
      hangups.push(this.node.hangUp(pid).catch((e) => this.log('debug', 'hang-up failed', { peer: id, error: errText(e) })));
    }
    this.log('info', 'blocked peers', { peers: ids.map(String) });
    await Promise.all(hangups);
  }

  /** Lifts every block and redials the formerly blocked peers we know addresses for. */
  unblockAll(): void {
    const ids = [...this.blockedSet];
    this.blockedSet.clear();
    if (ids.length) this.log('info', 'unblocked peers', { peers: ids });
    if (this.closing) return;
    for (const id of ids) {
      this.backoff.delete(id);
      this.lost.set(id, Date.now());
      this.tryDial(id);
    }
    this.schedulePx();
  }

  // ---- connections & discovery ---------------------------------------------------------------------

  private onPeerConnect(peer: PeerId): void {
    const id = peer.toString();
    if (this.closing) return;
    if (this.blockedSet.has(id)) {
      void this.node.hangUp(peer).catch(() => {});
      return;
    }
    this.lost.delete(id);
    if (this.connected.has(id)) return;
    this.connected.add(id);
    this.connectedAt.set(id, Date.now());
    this.log('debug', 'peer connected', { peer: id });
    this.callHandler('connect', id);
    this.schedulePx();
  }

  private onPeerDisconnect(id: string): void {
    this.dropChannel(id, 'peer disconnected');
    this.pxSent.delete(id);
    if (!this.connected.delete(id)) return;
    const now = Date.now();
    const at = this.connectedAt.get(id);
    this.connectedAt.delete(id);
    const lifetime = at === undefined ? 0 : now - at;
    this.log('debug', 'peer disconnected', { peer: id, afterMs: lifetime });
    if (lifetime < STABLE_MS) {
      // Flapping: back off, and do not extend the redial window.
      const b = this.backoff.get(id);
      const delay = b ? Math.min(b.delay * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
      this.backoff.set(id, { delay, nextAt: now + delay });
    } else {
      this.backoff.delete(id);
      if (!this.closing && !this.blockedSet.has(id)) this.lost.set(id, now);
    }
    this.callHandler('disconnect', id);
    this.schedulePx();
  }

  private onIdentify(result: IdentifyResult): void {
    const id = result.peerId.toString();
    const addrs = result.listenAddrs.filter((m) => !isWildcard(m)).map((m) => (peerOfAddr(m) ? m : m.encapsulate(`/p2p/${id}`)).toString());
    if (addrs.length > 0) this.rememberAddrs(id, addrs, true);
    this.schedulePx();
  }

  private rememberAddrs(id: string, addrs: string[], replace = false): void {
    const prev = replace ? [] : (this.knownAddrs.get(id) ?? []);
    const merged = [...new Set([...addrs, ...prev])].slice(0, PX_MAX_ADDRS);
    this.knownAddrs.delete(id);
    this.knownAddrs.set(id, merged);
    // Forget the oldest entries beyond the cap (Map keeps insertion order), never a bootstrap peer.
    for (const k of this.knownAddrs.keys()) {
      if (this.knownAddrs.size <= KNOWN_PEERS_MAX) break;
      if (!this.bootstrapIds.has(k) && !this.connected.has(k)) this.knownAddrs.delete(k);
    }
  }

  /** Dials a known peer unless connected, blocked, already dialling or backing off. */
  private tryDial(id: string): void {
    if (this.closing || id === this.localId || this.blockedSet.has(id) || this.connected.has(id) || this.dialing.has(id)) return;
    const b = this.backoff.get(id);
    const now = Date.now();
    if (b && now < b.nextAt) return;
    const addrs: Multiaddr[] = [];
    for (const a of this.knownAddrs.get(id) ?? []) {
      try {
        addrs.push(multiaddr(a));
      } catch {
        // skip
      }
    }
    if (addrs.length === 0) return;
    this.dialing.add(id);
    const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]);
    this.node
      .dial(addrs, { signal })
      .then(
        () => {
          // The backoff is cleared once the connection proves stable (see onPeerDisconnect).
        },
        (e: unknown) => {
          const delay = b ? Math.min(b.delay * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
          this.backoff.set(id, { delay, nextAt: Date.now() + delay });
          if (this.closing) return;
          if (errNames(e).includes('MeshSecretMismatchError')) {
            this.log('debug', 'dial failed: mesh secret check failed', { peer: id, retryInMs: delay, error: errText(e) });
          } else if (isHandshakeFailure(e)) {
            this.warnOnce(`dial-handshake:${id}`, 'dial failed: handshake failed (wrong or missing mesh secret?)', { peer: id, error: errText(e) });
          } else {
            this.log('debug', 'dial failed', { peer: id, retryInMs: delay, error: errText(e) });
          }
        },
      )
      .finally(() => this.dialing.delete(id));
  }

  private maintain(): void {
    if (this.closing) return;
    const now = Date.now();
    for (const id of this.bootstrapIds) if (!this.connected.has(id)) this.tryDial(id);
    for (const [id, at] of this.lost) {
      if (now - at > LOST_REDIAL_MS) this.lost.delete(id);
      else if (!this.connected.has(id)) this.tryDial(id);
    }
    if (now - this.lastPxRefresh >= PX_REFRESH_MS) this.pxAll();
    if (this.backoff.size > KNOWN_PEERS_MAX) {
      for (const id of this.backoff.keys()) if (!this.knownAddrs.has(id)) this.backoff.delete(id);
    }
  }

  private schedulePx(): void {
    if (this.closing || this.pxTimer !== undefined) return;
    this.pxTimer = setTimeout(() => {
      this.pxTimer = undefined;
      this.pxAll();
    }, PX_DEBOUNCE_MS);
    this.pxTimer.unref?.();
  }

  /** Tells every neighbour about our other neighbours (when the list changed, or now and then). */
  private pxAll(): void {
    if (this.closing) return;
    this.lastPxRefresh = Date.now();
    for (const p of this.connected) this.sendPx(p);
  }

  private sendPx(to: string): void {
    const peers: { id: string; addrs: string[] }[] = [];
    for (const id of this.connected) {
      if (id === to || this.blockedSet.has(id)) continue;
      const addrs = this.knownAddrs.get(id);
      if (addrs?.length) peers.push({ id, addrs });
      if (peers.length >= PX_MAX_PEERS) break;
    }
    if (peers.length === 0) return;
    const body = JSON.stringify({ v: 1, peers });
    const now = Date.now();
    const last = this.pxSent.get(to);
    if (last && last.body === body && now - last.at < PX_RESEND_MS) return;
    this.pxSent.set(to, { body, at: now });
    void (async () => {
      let stream: Stream | undefined;
      try {
        const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]);
        const conn = this.node.getConnections(peerIdFromString(to)).find((c) => c.status === 'open');
        if (!conn) return;
        stream = await conn.newStream(PX_PROTOCOL, { signal });
        stream.send(new TextEncoder().encode(body));
        await stream.close({ signal });
      } catch (e) {
        stream?.abort(e instanceof Error ? e : new Error(String(e)));
        this.pxSent.delete(to);
        if (!this.closing) this.log('debug', 'peer exchange send failed', { peer: to, error: errText(e) });
      }
    })();
  }

  private onPxStream(stream: Stream, conn: Connection): void {
    const from = conn.remotePeer.toString();
    if (this.closing || this.blockedSet.has(from)) {
      stream.abort(new Error('not accepting peer exchange'));
      return;
    }
    const bufs: Uint8Array[] = [];
    let total = 0;
    const timer = setTimeout(() => stream.abort(new Error('peer exchange read timed out')), PX_READ_TIMEOUT_MS);
    timer.unref?.();
    const finish = () => {
      clearTimeout(timer);
      const all = new Uint8Array(total);
      let o = 0;
      for (const b of bufs) {
        all.set(b, o);
        o += b.byteLength;
      }
      this.handlePx(from, all);
      void stream.close().catch(() => {});
    };
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      const chunk = evt.data;
      for (const b of chunk instanceof Uint8Array ? [chunk] : chunk) {
        total += b.byteLength;
        if (total > PX_MAX_BYTES) {
          clearTimeout(timer);
          this.log('warn', 'peer exchange message too large, stream reset', { peer: from, limit: PX_MAX_BYTES });
          stream.abort(new Error('peer exchange message too large'));
          return;
        }
        bufs.push(b.slice());
      }
    });
    stream.addEventListener('remoteCloseWrite', finish, { once: true });
    stream.addEventListener('close', () => clearTimeout(timer), { once: true });
  }

  private handlePx(from: string, bytes: Uint8Array): void {
    if (this.closing || this.blockedSet.has(from)) return;
    let msg: unknown;
    try {
      msg = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      this.log('debug', 'ignoring undecodable peer exchange', { peer: from });
      return;
    }
    const list = (msg as { peers?: unknown })?.peers;
    if (!Array.isArray(list)) return;
    for (const entry of list.slice(0, PX_MAX_PEERS)) {
      const id = (entry as { id?: unknown })?.id;
      const addrs = (entry as { addrs?: unknown })?.addrs;
      if (typeof id !== 'string' || !Array.isArray(addrs) || id === this.localId) continue;
      try {
        peerIdFromString(id);
      } catch {
        continue;
      }
      const good: string[] = [];
      for (const a of addrs.slice(0, PX_MAX_ADDRS)) {
        if (typeof a !== 'string') continue;
        try {
          const ma = multiaddr(a);
          const pid = peerOfAddr(ma);
          if (pid !== undefined && pid !== id) continue;
          if (isWildcard(ma)) continue;
          good.push((pid ? ma : ma.encapsulate(`/p2p/${id}`)).toString());
        } catch {
          // skip
        }
      }
      if (good.length === 0) continue;
      this.rememberAddrs(id, good);
      if (!this.connected.has(id) && !this.blockedSet.has(id)) this.tryDial(id);
    }
  }

  // ---- direct sync streams ---------------------------------------------------------------------------

  private dropChannel(peer: string, reason: string): void {
    const out = this.outs.get(peer);
    if (!out) return;
    this.outs.delete(peer);
    this.counters.dropped += out.queue.length;
    out.queue = [];
    out.queuedBytes = 0;
    if (out.stream && out.stream.status === 'open') out.stream.abort(new Error(reason));
    out.stream = undefined;
  }

  private async openSyncStream(peer: string): Promise<Stream> {
    const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS)]);
    const stream = await this.node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal });
    this.counters.streamsOpened++;
    return stream;
  }

  private async pump(out: OutChannel): Promise<void> {
    if (out.pumping) return;
    out.pumping = true;
    try {
      while (out.queue.length > 0 && !this.closing && this.outs.get(out.peer) === out) {
        let stream = out.stream;
        if (!stream || stream.status !== 'open' || stream.writeStatus !== 'writable') {
          out.stream = undefined;
          try {
            stream = await this.openSyncStream(out.peer);
          } catch (e) {
            if (this.closing) return;
            const n = out.queue.length;
            this.counters.dropped += n;
            out.queue = [];
            out.queuedBytes = 0;
            this.log('debug', 'could not open sync stream; messages dropped', { peer: out.peer, messages: n, error: errText(e) });
            return;
          }
          if (this.closing || this.outs.get(out.peer) !== out || this.blockedSet.has(out.peer)) {
            stream.abort(new Error('channel dropped'));
            return;
          }
          const s = stream;
          s.addEventListener('close', (evt) => {
            if (out.stream === s) out.stream = undefined;
            if (evt.error && !this.closing) {
              this.counters.streamErrors++;
              this.log('debug', 'sync stream closed with error', { peer: out.peer, error: errText(evt.error) });
            }
          });
          out.stream = s;
        }
        const data = out.queue.shift()!;
        out.queuedBytes -= data.byteLength;
        let canSendMore: boolean;
        try {
          stream.send(encodeFrameHeader(data.byteLength));
          canSendMore = stream.send(data);
          this.counters.sentMessages++;
          this.counters.sentBytes += data.byteLength;
        } catch (e) {
          this.counters.dropped++;
          this.counters.streamErrors++;
          this.log('debug', 'sync stream write failed; reopening', { peer: out.peer, error: errText(e) });
          stream.abort(e instanceof Error ? e : new Error(String(e)));
          out.stream = undefined;
          continue;
        }
        if (!canSendMore) {
          this.counters.backpressureWaits++;
          try {
            await stream.onDrain({ signal: AbortSignal.any([this.stopController.signal, AbortSignal.timeout(DRAIN_TIMEOUT_MS)]) });
          } catch (e) {
            if (this.closing) return;
            this.counters.streamErrors++;
            this.log('debug', 'sync stream did not drain; reopening', { peer: out.peer, error: errText(e) });
            if (stream.status === 'open') stream.abort(e instanceof Error ? e : new Error(String(e)));
            out.stream = undefined;
          }
        }
      }
    } finally {
      out.pumping = false;
    }
    // A send that raced the end of the loop.
    if (out.queue.length > 0 && !this.closing && this.outs.get(out.peer) === out) void this.pump(out);
  }

  private onSyncStream(stream: Stream, conn: Connection): void {
    const from = conn.remotePeer.toString();
    if (this.closing || this.blockedSet.has(from)) {
      stream.abort(new Error('not accepting sync streams from this peer'));
      return;
    }
    const decoder = new FrameDecoder(this.maxMessageBytes);
    const onFrame = (frame: Uint8Array) => this.deliver(from, frame);
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      if (this.closing || this.blockedSet.has(from)) {
        stream.abort(new Error('peer blocked'));
        return;
      }
      try {
        decoder.push(evt.data, onFrame);
      } catch (e) {
        this.counters.rejectedFrames++;
        this.warnOnce(`frame:${from}`, 'refused frame over maxMessageBytes (or malformed); resetting sync stream', {
          peer: from,
          error: (e as Error).message,
          limit: this.maxMessageBytes,
        });
        stream.abort(e instanceof Error ? e : new Error(String(e)));
      }
    });
    stream.addEventListener('remoteCloseWrite', () => {
      void stream.close().catch(() => {});
    });
  }

  private deliver(from: string, data: Uint8Array): void {
    this.counters.receivedMessages++;
    this.counters.receivedBytes += data.byteLength;
    if (!this.handlers) {
      if (this.early.length < EARLY_MAX_MESSAGES && this.earlyBytes + data.byteLength <= EARLY_MAX_BYTES) {
        this.early.push({ from, data });
        this.earlyBytes += data.byteLength;
      } else {
        this.counters.dropped++;
      }
      return;
    }
    this.callHandler('message', from, data);
  }

  private onGossip(detail: GossipsubMessage): void {
    if (this.closing) return;
    const msg = detail.msg;
    if (msg.topic !== SYNC_TOPIC) return;
    const source = detail.propagationSource.toString();
    const from = msg.type === 'signed' ? msg.from.toString() : source;
    if (from === this.localId) return;
    if (this.blockedSet.has(from) || this.blockedSet.has(source)) {
      this.counters.ignoredGossip++;
      return;
    }
    if (msg.data.byteLength > this.maxMessageBytes) {
      this.counters.rejectedFrames++;
      return;
    }
    this.counters.gossipReceived++;
    this.deliver(from, msg.data);
  }

  // ---- logging & handlers ------------------------------------------------------------------------------

  /** @internal receives libp2p's error lines (see libp2p-logger.ts). */
  onLibp2pError(component: string, format: string, args: unknown[]): void {
    if (format.startsWith('failed to upgrade') && args[0] === 'inbound') {
      this.noteInboundRefusal(args[3], args[2] === undefined ? undefined : String(args[2]));
      return;
    }
    if (format.startsWith('inbound connection upgrade failed')) {
      this.noteInboundRefusal(args[0], undefined);
      return;
    }
    this.log('debug', `libp2p: ${formatLibp2pLine(format, args)}`, { component });
  }

  private noteInboundRefusal(err: unknown, remote: string | undefined): void {
    if (typeof err === 'object' && err !== null) {
      if (this.seenErrors.has(err)) return;
      this.seenErrors.add(err);
    }
    if (this.closing) return;
    const names = errNames(err);
    if (names.includes('MeshSecretMismatchError')) return; // reported by onSecretRefused
    if (names.includes('ConnectionInterceptedError')) {
      this.log('debug', 'refused connection from blocked peer', { remote, error: errText(err) });
      return;
    }
    if (names.includes('ConnectionDeniedError')) {
      this.log('debug', 'refused connection: connection limit reached', { remote, error: errText(err) });
      return;
    }
    this.counters.refusedConnections++;
    this.warnOnce(`inbound:${hostOfAddr(remote)}`, 'refused connection: handshake failed (wrong or missing mesh secret?)', {
      remote,
      privateMesh: this.opts.secret !== undefined,
      error: errText(err),
    });
  }

  /** @internal the pnet guard refused a connection (see pnet-guard.ts). */
  onSecretRefused(info: { direction: 'inbound' | 'outbound'; remoteAddr: string | undefined; reason: string }): void {
    if (this.closing) return;
    if (info.direction === 'inbound') this.counters.refusedConnections++;
    const msg =
      info.direction === 'inbound'
        ? 'refused connection: handshake failed (wrong or missing mesh secret?)'
        : 'connection refused by remote: handshake failed (wrong or missing mesh secret?)';
    this.warnOnce(`secret:${info.direction}:${hostOfAddr(info.remoteAddr)}`, msg, { remote: info.remoteAddr, direction: info.direction, reason: info.reason });
  }

  private warnOnce(key: string, msg: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const last = this.warned.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) {
      this.log('debug', msg, fields);
      return;
    }
    this.warned.set(key, now);
    if (this.warned.size > 1024) this.warned.clear();
    this.log('warn', msg, fields);
  }

  private drop(msg: string, fields?: Record<string, unknown>, level: MeshLogLevel = 'debug'): void {
    this.counters.dropped++;
    if (level === 'warn') this.warnOnce(`drop:${msg}`, msg, fields ?? {});
    else this.log(level, msg, fields);
  }

  private callHandler(kind: 'message', from: string, data: Uint8Array): void;
  private callHandler(kind: 'connect' | 'disconnect', peer: string): void;
  private callHandler(kind: 'message' | 'connect' | 'disconnect', peer: string, data?: Uint8Array): void {
    const h = this.handlers;
    if (!h || this.closing) return;
    try {
      if (kind === 'message') h.message(peer, data!);
      else if (kind === 'connect') h.connect(peer);
      else h.disconnect(peer);
    } catch (e) {
      this.log('error', `transport ${kind} handler threw`, { peer, error: errText(e) });
    }
  }

  private log(level: MeshLogLevel, msg: string, fields?: Record<string, unknown>): void {
    try {
      this.logFn(level, msg, fields);
    } catch {
      // a broken logger must not break the transport
    }
  }
}
