// Broadcasts on the gossipsub topic 'agentmesh/sync/1' (@libp2p/gossipsub 17, which does see
// subscribers under libp2p 3). gossipsub only reaches peers whose subscription it has already
// learned, which lags a fresh connection, so every connected peer that is not among a publish's
// recipients gets the message directly as well (duplicates are harmless to Yjs). Broadcasts over
// 1 MiB always go direct: gossipsub's RPC reader caps a frame at 4 MiB. Received gossip written or
// relayed by a blocked peer is ignored.

import type { GossipsubMessage } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import type { Connections } from './connections.js';
import { errText } from './diagnostics.js';
import type { Inbox } from './inbox.js';
import type { PartitionGater } from './partition-gater.js';
import { countDrop, type MeshComponents, type Startable } from './service.js';
import type { SyncStreams } from './sync-streams.js';

export const SYNC_TOPIC = 'agentmesh/sync/1';
/** Broadcasts larger than this skip gossipsub (its RPC reader refuses frames over 4 MiB). */
export const GOSSIP_MAX_BYTES = 1024 * 1024;

export interface GossipInit {
  /** Largest message sent or accepted. */
  maxMessageBytes: number;
}

export interface GossipComponents extends MeshComponents {
  gater: PartitionGater;
  inbox: Inbox;
  /** Direct sends, for the fallback. */
  streams: SyncStreams;
  connections: Connections;
}

export class Gossip implements Startable {
  private stopped = false;

  constructor(
    private readonly c: GossipComponents,
    private readonly init: GossipInit,
  ) {}

  /** Subscribes to the topic (the node must be started). */
  afterStart(): void {
    const pubsub = this.c.node.services.pubsub;
    pubsub.addEventListener('gossipsub:message', (e) => this.onGossip(e.detail));
    pubsub.subscribe(SYNC_TOPIC);
  }

  stop(): void {
    this.stopped = true;
  }

  /** Publishes `data`; connected peers gossipsub did not reach get it directly. Never throws. */
  broadcast(data: Uint8Array): void {
    if (this.stopped) return;
    const { stats, streams, connections } = this.c;
    if (!(data instanceof Uint8Array)) {
      countDrop(this.c, 'broadcast needs a Uint8Array');
      return;
    }
    if (data.byteLength > this.init.maxMessageBytes) {
      countDrop(this.c, 'broadcast over maxMessageBytes not sent', { bytes: data.byteLength, limit: this.init.maxMessageBytes }, 'warn');
      return;
    }
    const peers = connections.peers();
    if (peers.length === 0) return;
    if (data.byteLength > GOSSIP_MAX_BYTES) {
      for (const p of peers) streams.send(p, data);
      return;
    }
    let published: Promise<{ recipients: PeerId[] }>;
    try {
      published = this.c.node.services.pubsub.publish(SYNC_TOPIC, data);
    } catch (e) {
      published = Promise.reject(e);
    }
    published.then(
      (res) => {
        stats.gossipPublished++;
        stats.sentMessages++;
        stats.sentBytes += data.byteLength;
        const reached = new Set(res.recipients.map((p) => p.toString()));
        for (const p of connections.peers()) {
          if (reached.has(p)) continue;
          stats.directFallbacks++;
          streams.send(p, data);
        }
      },
      (e) => {
        if (this.stopped) return;
        this.c.log.log('debug', 'gossipsub publish failed; sending directly', { error: errText(e) });
        for (const p of connections.peers()) {
          stats.directFallbacks++;
          streams.send(p, data);
        }
      },
    );
  }

  private onGossip(detail: GossipsubMessage): void {
    if (this.stopped) return;
    const msg = detail.msg;
    if (msg.topic !== SYNC_TOPIC) return;
    const source = detail.propagationSource.toString();
    const from = msg.type === 'signed' ? msg.from.toString() : source;
    if (from === this.c.localId) return;
    if (this.c.gater.refusesGossip(from, source)) {
      this.c.stats.ignoredGossip++;
      return;
    }
    if (msg.data.byteLength > this.init.maxMessageBytes) {
      this.c.stats.rejectedFrames++;
      return;
    }
    this.c.stats.gossipReceived++;
    this.c.inbox.deliver(from, msg.data);
  }
}

export function gossip(init: GossipInit): (components: GossipComponents) => Gossip {
  return (components) => new Gossip(components, init);
}
