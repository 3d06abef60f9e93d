// Broadcasts on the gossipsub topic 'agentmesh/sync/1' (@libp2p/gossipsub 17, which does see
// subscribers under libp2p 3), when the transport's fan-out is one of the gossipsub ones (the
// default fan-out is direct streams: it measured better at 3 and at 15 peers, see
// docs/performance.md, "Fan-out", and bench/src/fanout.ts).
//
// - 'gossipsub': tuned for a mesh that pnet and Noise already authenticate and encrypt: no
//   per-message signature (StrictNoSign), so the origin travels in a small header in front of
//   the bytes (origin peer id and a sequence number), which is also the message id (no hashing:
//   a duplicate is recognised from its first bytes); publishes go to the topic mesh only.
// - 'gossipsub-signed': the configuration before issue 11 (signed messages, flood publish,
//   default peer scores), kept to compare against in the fan-out benchmark. Its scores penalise
//   more than 10 peers on one IP, so on one machine from 12 peers up gossipsub reaches nobody
//   and every broadcast goes out on the direct fallback.
//
// gossipsub only reaches peers whose subscription it has already learned, which lags a fresh
// connection, so every connected peer that is not among a publish's recipients gets the message
// directly as well (duplicates are harmless to Yjs). Broadcasts over 1 MiB always go direct:
// gossipsub's RPC reader caps a frame at 4 MiB. Received gossip written or relayed by a blocked
// peer is ignored.

import type { GossipsubMessage, GossipsubOpts } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Connections } from './connections.js';
import { errText } from './diagnostics.js';
import type { Inbox } from './inbox.js';
import type { PartitionGater } from './partition-gater.js';
import { countDrop, type MeshComponents, type Startable } from './service.js';
import type { SyncStreams } from './sync-streams.js';

export const SYNC_TOPIC = 'agentmesh/sync/1';
/** Broadcasts larger than this skip gossipsub (its RPC reader refuses frames over 4 MiB). */
export const GOSSIP_MAX_BYTES = 1024 * 1024;

export type GossipMode = 'gossipsub' | 'gossipsub-signed';

// ---- the unsigned header: [origin length u8][origin peer id, UTF-8][sequence, varint] ----------

/** The header's length, or 0 when `data` does not start with a well-formed one. */
export function headerLength(data: Uint8Array | undefined): number {
  if (!data || data.byteLength < 2) return 0;
  let i = 1 + data[0]!;
  for (let n = 0; n < 8; n++) {
    if (i >= data.byteLength) return 0;
    if ((data[i++]! & 0x80) === 0) return i;
  }
  return 0;
}

export function encodeHeader(origin: Uint8Array, seq: number): Uint8Array {
  const out = [origin.byteLength, ...origin];
  let n = seq;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** gossipsub options for a mode (see the header comment). */
export function gossipsubOptions(mode: GossipMode): Partial<GossipsubOpts> {
  const common = { emitSelf: false, allowPublishToZeroTopicPeers: true, ignoreDuplicatePublishError: true };
  if (mode === 'gossipsub-signed') return { ...common, floodPublish: true };
  return {
    ...common,
    floodPublish: false,
    // Every member passed pnet and Noise: no penalty for many peers on one address (the default
    // scores more than 10 peers on one IP so low that gossipsub grafts none of them, which on one
    // machine left the topic mesh empty from 12 peers up and every broadcast on the fallback).
    scoreParams: { IPColocationFactorWeight: 0 },
    globalSignaturePolicy: 'StrictNoSign',
    msgIdFn: (msg) => msg.data.subarray(0, headerLength(msg.data)),
    fastMsgIdFn: (rpc) => latin1(rpc.data ? rpc.data.subarray(0, headerLength(rpc.data)) : new Uint8Array(0)),
    msgIdToStrFn: latin1,
  };
}

export interface GossipInit {
  /** Largest message sent or accepted. */
  maxMessageBytes: number;
  mode: GossipMode;
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
  private readonly origin: Uint8Array;
  /** Starts from the clock so a restarted peer's ids do not repeat ones still remembered as seen. */
  private seq: number;
  /** Origin header bytes (latin1) -> peer id, checked once. */
  private readonly origins = new Map<string, string | null>();

  constructor(
    private readonly c: GossipComponents,
    private readonly init: GossipInit,
  ) {
    this.origin = new TextEncoder().encode(c.localId);
    this.seq = Math.floor(Date.now()) * 1024;
  }

  /** Subscribes to the topic (the node must be started). */
  afterStart(): void {
    const pubsub = this.c.node.services.pubsub!;
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
      streams.sendToAll(peers, data);
      return;
    }
    let payload = data;
    if (this.init.mode === 'gossipsub') {
      const header = encodeHeader(this.origin, this.seq++);
      payload = new Uint8Array(header.byteLength + data.byteLength);
      payload.set(header, 0);
      payload.set(data, header.byteLength);
    }
    let published: Promise<{ recipients: PeerId[] }>;
    try {
      published = this.c.node.services.pubsub!.publish(SYNC_TOPIC, payload);
    } catch (e) {
      published = Promise.reject(e);
    }
    published.then(
      (res) => {
        stats.gossipPublished++;
        stats.sentMessages++;
        stats.sentBytes += data.byteLength;
        const reached = new Set(res.recipients.map((p) => p.toString()));
        const missed = connections.peers().filter((p) => !reached.has(p));
        stats.directFallbacks += missed.length;
        streams.sendToAll(missed, data);
      },
      (e) => {
        if (this.stopped) return;
        this.c.log.log('debug', 'gossipsub publish failed; sending directly', { error: errText(e) });
        const all = connections.peers();
        stats.directFallbacks += all.length;
        streams.sendToAll(all, data);
      },
    );
  }

  private onGossip(detail: GossipsubMessage): void {
    if (this.stopped) return;
    const msg = detail.msg;
    if (msg.topic !== SYNC_TOPIC) return;
    const source = detail.propagationSource.toString();
    let from = source;
    let data = msg.data;
    if (msg.type === 'signed') from = msg.from.toString();
    else if (this.init.mode === 'gossipsub') {
      const h = headerLength(data);
      const origin = h > 0 ? this.originOf(data.subarray(1, 1 + data[0]!)) : null;
      if (origin === null) {
        this.c.stats.rejectedFrames++;
        return;
      }
      from = origin;
      data = data.subarray(h);
    }
    if (from === this.c.localId) return;
    if (this.c.gater.refusesGossip(from, source)) {
      this.c.stats.ignoredGossip++;
      return;
    }
    if (data.byteLength > this.init.maxMessageBytes) {
      this.c.stats.rejectedFrames++;
      return;
    }
    this.c.stats.gossipReceived++;
    this.c.inbox.deliver(from, data);
  }

  /** The peer id a header names, or null when it is not one. */
  private originOf(bytes: Uint8Array): string | null {
    const key = latin1(bytes);
    let id = this.origins.get(key);
    if (id !== undefined) return id;
    try {
      id = peerIdFromString(new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toString();
    } catch {
      id = null;
    }
    if (this.origins.size > 4096) this.origins.clear();
    this.origins.set(key, id);
    return id;
  }
}

export function gossip(init: GossipInit): (components: GossipComponents) => Gossip {
  return (components) => new Gossip(components, init);
}
