// Who we are connected to, and how we get back to peers we lost. The connected set follows
// libp2p's peer:connect / peer:disconnect (one 'connect' and one 'disconnect' event per peer);
// bootstrap peers are redialled while not connected, peers that dropped for 10 min, every 250 ms
// tick, each behind one backoff (backoff.ts) that a failed dial and a connection that died within
// 2 s (a peer that gates us lets our dial finish and then drops it) both feed. Of two peers that
// learn of each other from a neighbour, only the smaller id dials at once (dialLearned), so they
// open one connection, not two. The address book (where to dial) belongs here; identify and peer
// exchange add to it.

import type { Multiaddr } from '@multiformats/multiaddr';
import type { PeerId } from '@libp2p/interface';
import { MeshError } from '@agentmesh/scheduler';
import { TypedEmitter } from '../emitter.js';
import { AddressBook, KNOWN_PEERS_MAX, peerOfAddr } from './address-book.js';
import { backingOff, nextBackoff, type Backoff } from './backoff.js';
import { errNames, errText, isHandshakeFailure } from './diagnostics.js';
import type { PartitionGater } from './partition-gater.js';
import type { MeshComponents, Startable } from './service.js';
import { deadline, every } from './timers.js';

const DIAL_TIMEOUT_MS = 5_000;
const MAINTENANCE_MS = 250;
/**
 * Peers that dropped are redialled (with backoff, at most every 5 s) for this long: as long as the
 * peer waits for a known peer that went away (forgetPeersAfterMs). A shorter window left the two
 * sides of a split longer than it apart for good once the bootstrap peer was gone (found by the
 * network-namespace tests).
 */
const LOST_REDIAL_MS = 10 * 60_000;
/**
 * A connection that dies sooner than this counts as a failed dial for the backoff: a peer that
 * blocks us (gater) lets the dialer finish its side of the upgrade and then drops the connection,
 * and without this the dialer would reconnect and flap every maintenance tick.
 */
const STABLE_MS = 2_000;
/**
 * How long the peer with the larger id waits before dialling a peer it learned of from a
 * neighbour (see dialLearned): time for the other side's dial to land, so only one connects.
 */
const YIELD_MS = 500;

export interface ConnectionsInit {
  /** Addresses to join through, each ending in /p2p/<peer id>. */
  bootstrap: Multiaddr[];
}

export interface ConnectionsComponents extends MeshComponents {
  gater: PartitionGater;
}

export interface ConnectionEvents extends Record<string, unknown> {
  /** A peer became connected. */
  connect: string;
  /** A connected peer is gone (libp2p's peer:disconnect; not for block()). */
  disconnect: string;
  /** libp2p said the peer disconnected (connected or not): drop what is kept for it. */
  gone: string;
}

export class Connections extends TypedEmitter<ConnectionEvents> implements Startable {
  /** Where known peers can be dialled; bootstrap and connected peers are never forgotten. */
  readonly addresses: AddressBook;
  private readonly connected = new Set<string>();
  private readonly connectedAt = new Map<string, number>();
  private readonly bootstrapIds = new Set<string>();
  /** Peers that dropped, and when: redialled until LOST_REDIAL_MS later. */
  private readonly lost = new Map<string, number>();
  private readonly dialing = new Set<string>();
  /** Peers learned of from a neighbour that we leave to dial us first, and when we dial them. */
  private readonly yielding = new Map<string, number>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly shutdown = new AbortController();
  private stopTick: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly c: ConnectionsComponents,
    init: ConnectionsInit,
  ) {
    super();
    this.addresses = new AddressBook((id) => this.bootstrapIds.has(id) || this.connected.has(id));
    for (const ma of init.bootstrap) {
      const id = peerOfAddr(ma)!;
      if (id === c.localId) continue;
      this.bootstrapIds.add(id);
      this.addresses.remember(id, [ma.toString()]);
    }
  }

  start(): void {
    this.c.node.addEventListener('peer:connect', (e) => this.onPeerConnect(e.detail));
    this.c.node.addEventListener('peer:disconnect', (e) => this.onPeerDisconnect(e.detail.toString()));
  }

  /** Dials the bootstrap peers and starts the redial tick. */
  afterStart(): void {
    for (const id of this.bootstrapIds) this.tryDial(id);
    this.stopTick = every(this.c.clock, MAINTENANCE_MS, () => this.maintain());
  }

  stop(): void {
    this.stopped = true;
    this.stopTick?.();
    this.stopTick = undefined;
    this.shutdown.abort(new MeshError('CLOSED', 'transport closed'));
  }

  afterStop(): void {
    this.connected.clear();
  }

  /** Connected peers, in the order they connected. */
  peers(): string[] {
    return [...this.connected];
  }

  isConnected(id: string): boolean {
    return this.connected.has(id);
  }

  /** For block(): forgets the peer as a connection and as one to redial; true if it was connected. */
  cut(id: string): boolean {
    this.lost.delete(id);
    this.yielding.delete(id);
    const was = this.connected.delete(id);
    this.connectedAt.delete(id);
    return was;
  }

  /**
   * For a healed partition: dial now without backoff, then redial as a lost peer. Both sides of a
   * heal do this at the same moment, and two simultaneous dials open two connections between the
   * pair; libp2p closes one, and a sync stream opened on it stalled for seconds (a heal that took
   * 7 s instead of 0.5). So, as for peers learned from a neighbour, the smaller id dials now and
   * the other waits YIELD_MS (as a backoff, which the redial tick respects) in case it is dialled.
   */
  redialNow(id: string): void {
    const now = this.c.clock.now();
    this.lost.set(id, now);
    if (this.c.localId < id) {
      this.backoff.delete(id);
      this.tryDial(id);
    } else this.backoff.set(id, { delay: YIELD_MS, nextAt: now + YIELD_MS });
  }

  /**
   * Dials a peer a neighbour told us about (peer exchange). The neighbour tells that peer about us
   * at the same moment, and if both dialled there would be two libp2p connections between them;
   * when one of them then closes while the other side is still upgrading its connection, libp2p
   * reports peer:disconnect, peer:connect and peer:disconnect again on the peer that stays. So the
   * peer with the smaller id dials now, and the other dials after YIELD_MS only if still unconnected.
   */
  dialLearned(id: string): void {
    if (this.c.localId < id) this.tryDial(id);
    else if (!this.yielding.has(id)) this.yielding.set(id, this.c.clock.now() + YIELD_MS);
  }

  /** Dials a known peer unless connected, blocked, already dialling or backing off. */
  tryDial(id: string): void {
    const { clock, gater, log } = this.c;
    if (this.stopped || id === this.c.localId || gater.has(id) || this.connected.has(id) || this.dialing.has(id)) return;
    const b = this.backoff.get(id);
    if (backingOff(b, clock.now())) return;
    const addrs = this.addresses.dialable(id);
    if (addrs.length === 0) return;
    this.dialing.add(id);
    const d = deadline(clock, DIAL_TIMEOUT_MS, this.shutdown.signal);
    this.c.node
      .dial(addrs, { signal: d.signal })
      .then(
        () => {
          // The backoff is cleared once the connection proves stable (see onPeerDisconnect).
        },
        (e: unknown) => {
          const next = nextBackoff(b, clock.now());
          this.backoff.set(id, next);
          if (this.stopped) return;
          if (errNames(e).includes('MeshSecretMismatchError')) {
            log.log('debug', 'dial failed: mesh secret check failed', { peer: id, retryInMs: next.delay, error: errText(e) });
          } else if (isHandshakeFailure(e)) {
            log.warnOnce(`dial-handshake:${id}`, 'dial failed: handshake failed (wrong or missing mesh secret?)', { peer: id, error: errText(e) });
          } else {
            log.log('debug', 'dial failed', { peer: id, retryInMs: next.delay, error: errText(e) });
          }
        },
      )
      .finally(() => {
        d.clear();
        this.dialing.delete(id);
      });
  }

  private onPeerConnect(peer: PeerId): void {
    const id = peer.toString();
    if (this.stopped) return;
    if (this.c.gater.has(id)) {
      void this.c.node.hangUp(peer).catch(() => {});
      return;
    }
    this.lost.delete(id);
    this.yielding.delete(id);
    if (this.connected.has(id)) return;
    this.connected.add(id);
    this.connectedAt.set(id, this.c.clock.now());
    this.c.log.log('debug', 'peer connected', { peer: id });
    this.emit('connect', id);
  }

  private onPeerDisconnect(id: string): void {
    this.emit('gone', id);
    if (!this.connected.delete(id)) return;
    const now = this.c.clock.now();
    const at = this.connectedAt.get(id);
    this.connectedAt.delete(id);
    const lifetime = at === undefined ? 0 : now - at;
    this.c.log.log('debug', 'peer disconnected', { peer: id, afterMs: lifetime });
    if (lifetime < STABLE_MS) {
      // Flapping: back off, and do not extend the redial window.
      this.backoff.set(id, nextBackoff(this.backoff.get(id), now));
    } else {
      this.backoff.delete(id);
      if (!this.stopped && !this.c.gater.has(id)) this.lost.set(id, now);
    }
    this.emit('disconnect', id);
  }

  private maintain(): void {
    if (this.stopped) return;
    const now = this.c.clock.now();
    for (const id of this.bootstrapIds) if (!this.connected.has(id)) this.tryDial(id);
    for (const [id, at] of this.yielding) {
      if (now < at) continue;
      this.yielding.delete(id);
      this.tryDial(id);
    }
    for (const [id, at] of this.lost) {
      if (now - at > LOST_REDIAL_MS) this.lost.delete(id);
      else if (!this.connected.has(id)) this.tryDial(id);
    }
    if (this.backoff.size > KNOWN_PEERS_MAX) {
      for (const id of this.backoff.keys()) if (!this.addresses.has(id)) this.backoff.delete(id);
    }
  }
}

export function connections(init: ConnectionsInit): (components: ConnectionsComponents) => Connections {
  return (components) => new Connections(components, init);
}
