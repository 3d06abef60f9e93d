// What the parts of the libp2p transport share, built the js-libp2p way: each part is a function
// `(init) => (components) => Service`; the components are the node, the clock, the log and the
// shared counters; the lifecycle follows libp2p's Startable (start before the node starts,
// afterStart once it listens, stop before it stops, afterStop once it has). MeshTransport
// (libp2p-transport.ts) wires the parts and owns the order.

import type { Libp2p } from 'libp2p';
import type { Identify } from '@libp2p/identify';
import type { GossipSub } from '@libp2p/gossipsub';
import type { Clock } from '../clock.js';
import type { LogLevel } from '../logger.js';
import type { MeshLog } from './mesh-log.js';

/** `pubsub` only when the fan-out is a gossipsub one. */
export type MeshServices = { identify: Identify; pubsub?: GossipSub };
export type MeshNode = Libp2p<MeshServices>;

export interface MeshComponents {
  node: MeshNode;
  clock: Clock;
  log: MeshLog;
  /** The transport's counters, shared: each part adds to its own. */
  stats: MeshTransportStats;
  /** This peer's id. */
  localId: string;
}

/** libp2p's Startable, with a synchronous stop: every part is stopped before the node is. */
export interface Startable {
  start?(): void | Promise<void>;
  afterStart?(): void;
  stop?(): void;
  afterStop?(): void;
}

export interface MeshTransportStats {
  /**
   * Messages handed to the network (direct frames + gossip publishes): a gossip publish counts
   * once however many copies travel; the wire* counters of MeshTransport.stats() count them all.
   */
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
  /** broadcast() calls that sent something. */
  broadcasts: number;
}

export function emptyStats(): MeshTransportStats {
  return {
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
    broadcasts: 0,
  };
}

/** Counts a dropped message and says why (a warning is rate-limited per message text). */
export function countDrop(c: Pick<MeshComponents, 'log' | 'stats'>, msg: string, fields?: Record<string, unknown>, level: LogLevel = 'debug'): void {
  c.stats.dropped++;
  if (level === 'warn') c.log.warnOnce(`drop:${msg}`, msg, fields ?? {});
  else c.log.log(level, msg, fields);
}
