// Direct sync messages: one long-lived outbound stream per remote peer on /agentmesh/sync/1.0.0,
// opened lazily and reopened after an error. Messages are queued per peer (bounded), framed once
// (varint length and bytes in one buffer, framing.ts, so one yamux frame and one Noise record per
// message; a broadcast shares that buffer among its peers), sent with the stream's backpressure
// (send() -> false, then onDrain()), and reassembled on the receiving side, where a frame over
// maxMessageBytes resets the stream. Whole messages go to the Inbox.

import { peerIdFromString } from '@libp2p/peer-id';
import type { Connection, Stream, StreamMessageEvent } from '@libp2p/interface';
import { MeshError } from '@agentmesh/scheduler';
import { FrameDecoder, encodeFrame, frameHeaderLength } from './framing.js';
import { errText } from './diagnostics.js';
import type { Inbox } from './inbox.js';
import type { PartitionGater } from './partition-gater.js';
import { countDrop, type MeshComponents, type Startable } from './service.js';
import { deadline } from './timers.js';

export const SYNC_PROTOCOL = '/agentmesh/sync/1.0.0';
const MAX_INBOUND_STREAMS = 8;
const STREAM_OPEN_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 30_000;

export interface SyncStreamsInit {
  /** Largest message sent or accepted. */
  maxMessageBytes: number;
}

export interface SyncStreamsComponents extends MeshComponents {
  gater: PartitionGater;
  inbox: Inbox;
}

interface OutChannel {
  peer: string;
  stream: Stream | undefined;
  /** Framed messages (header and bytes), possibly shared with other channels: never written to. */
  queue: Uint8Array[];
  queuedBytes: number;
  pumping: boolean;
}

/** A message at least this big reports its progress as it arrives (TransportHandlers.receiving). */
export const RECEIVING_MIN_BYTES = 64 * 1024;

export class SyncStreams implements Startable {
  /** Bytes queued per peer before sends are dropped. */
  readonly maxQueueBytes: number;
  private readonly maxMessageBytes: number;
  private readonly outs = new Map<string, OutChannel>();
  private readonly shutdown = new AbortController();
  private stopped = false;

  constructor(
    private readonly c: SyncStreamsComponents,
    init: SyncStreamsInit,
  ) {
    this.maxMessageBytes = init.maxMessageBytes;
    this.maxQueueBytes = Math.max(2 * this.maxMessageBytes, 8 * 1024 * 1024);
  }

  async start(): Promise<void> {
    await this.c.node.handle(SYNC_PROTOCOL, (stream, conn) => this.onSyncStream(stream, conn), { maxInboundStreams: MAX_INBOUND_STREAMS });
  }

  stop(): void {
    this.stopped = true;
    this.shutdown.abort(new MeshError('CLOSED', 'transport closed'));
    for (const out of this.outs.values()) {
      out.queue = [];
      out.queuedBytes = 0;
    }
    this.outs.clear();
  }

  /** Queues `data` for `to`. Never throws; drops (and counts) what it cannot send. */
  send(to: string, data: Uint8Array): void {
    if (this.stopped) return;
    if (typeof to !== 'string' || !(data instanceof Uint8Array)) {
      countDrop(this.c, 'send needs a peer id string and a Uint8Array', { to: String(to) });
      return;
    }
    if (!this.sendable(data, to)) return;
    // A copy (the frame): the Transport contract lets the caller reuse its buffer once send() returns.
    this.enqueue(to, encodeFrame(data));
  }

  /**
   * Queues `data` for each of `peers`: framed once, the one buffer shared by every queue.
   * Never throws; drops (and counts) what it cannot send.
   */
  sendToAll(peers: readonly string[], data: Uint8Array): void {
    if (this.stopped || peers.length === 0) return;
    if (!(data instanceof Uint8Array)) {
      countDrop(this.c, 'broadcast needs a Uint8Array');
      return;
    }
    if (!this.sendable(data)) return;
    const frame = encodeFrame(data);
    for (const to of peers) this.enqueue(to, frame);
  }

  private sendable(data: Uint8Array, to?: string): boolean {
    if (data.byteLength > this.maxMessageBytes) {
      countDrop(this.c, 'message over maxMessageBytes not sent', { ...(to !== undefined ? { to } : {}), bytes: data.byteLength, limit: this.maxMessageBytes }, 'warn');
      return false;
    }
    return true;
  }

  private enqueue(to: string, frame: Uint8Array): void {
    if (to === this.c.localId || this.c.gater.has(to)) {
      this.c.stats.dropped++;
      return;
    }
    let out = this.outs.get(to);
    if (!out) {
      out = { peer: to, stream: undefined, queue: [], queuedBytes: 0, pumping: false };
      this.outs.set(to, out);
    }
    if (out.queuedBytes + frame.byteLength > this.maxQueueBytes) {
      countDrop(this.c, 'send queue full, message dropped', { to, queued: out.queuedBytes, bytes: frame.byteLength }, 'warn');
      return;
    }
    out.queue.push(frame);
    out.queuedBytes += frame.byteLength;
    if (!out.pumping) void this.pump(out);
  }

  /** Forgets the peer's channel: its queue is dropped (and counted), its stream aborted. */
  drop(peer: string, reason: string): void {
    const out = this.outs.get(peer);
    if (!out) return;
    this.outs.delete(peer);
    this.c.stats.dropped += out.queue.length;
    out.queue = [];
    out.queuedBytes = 0;
    if (out.stream && out.stream.status === 'open') out.stream.abort(new Error(reason));
    out.stream = undefined;
  }

  private async openSyncStream(peer: string): Promise<Stream> {
    const d = deadline(this.c.clock, STREAM_OPEN_TIMEOUT_MS, this.shutdown.signal);
    try {
      const stream = await this.c.node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal: d.signal });
      this.c.stats.streamsOpened++;
      return stream;
    } finally {
      d.clear();
    }
  }

  private async pump(out: OutChannel): Promise<void> {
    if (out.pumping) return;
    out.pumping = true;
    const { stats, log } = this.c;
    try {
      while (out.queue.length > 0 && !this.stopped && this.outs.get(out.peer) === out) {
        let stream = out.stream;
        if (!stream || stream.status !== 'open' || stream.writeStatus !== 'writable') {
          out.stream = undefined;
          try {
            stream = await this.openSyncStream(out.peer);
          } catch (e) {
            if (this.stopped) return;
            const n = out.queue.length;
            stats.dropped += n;
            out.queue = [];
            out.queuedBytes = 0;
            log.log('debug', 'could not open sync stream; messages dropped', { peer: out.peer, messages: n, error: errText(e) });
            return;
          }
          if (this.stopped || this.outs.get(out.peer) !== out || this.c.gater.has(out.peer)) {
            stream.abort(new Error('channel dropped'));
            return;
          }
          const s = stream;
          s.addEventListener('close', (evt) => {
            if (out.stream === s) out.stream = undefined;
            if (evt.error && !this.stopped) {
              stats.streamErrors++;
              log.log('debug', 'sync stream closed with error', { peer: out.peer, error: errText(evt.error) });
            }
          });
          out.stream = s;
        }
        const frame = out.queue.shift()!;
        out.queuedBytes -= frame.byteLength;
        let canSendMore: boolean;
        try {
          canSendMore = stream.send(frame);
          stats.sentMessages++;
          stats.sentBytes += frame.byteLength - frameHeaderLength(frame.byteLength);
        } catch (e) {
          stats.dropped++;
          stats.streamErrors++;
          log.log('debug', 'sync stream write failed; reopening', { peer: out.peer, error: errText(e) });
          stream.abort(e instanceof Error ? e : new Error(String(e)));
          out.stream = undefined;
          continue;
        }
        if (!canSendMore) {
          stats.backpressureWaits++;
          const d = deadline(this.c.clock, DRAIN_TIMEOUT_MS, this.shutdown.signal);
          try {
            await stream.onDrain({ signal: d.signal });
          } catch (e) {
            if (this.stopped) return;
            stats.streamErrors++;
            log.log('debug', 'sync stream did not drain; reopening', { peer: out.peer, error: errText(e) });
            if (stream.status === 'open') stream.abort(e instanceof Error ? e : new Error(String(e)));
            out.stream = undefined;
          } finally {
            d.clear();
          }
        }
      }
    } finally {
      out.pumping = false;
    }
    // A send that raced the end of the loop.
    if (out.queue.length > 0 && !this.stopped && this.outs.get(out.peer) === out) void this.pump(out);
  }

  private onSyncStream(stream: Stream, conn: Connection): void {
    const from = conn.remotePeer.toString();
    if (this.stopped || this.c.gater.has(from)) {
      stream.abort(new Error('not accepting sync streams from this peer'));
      return;
    }
    const decoder = new FrameDecoder(this.maxMessageBytes);
    const onFrame = (frame: Uint8Array) => this.c.inbox.deliver(from, frame);
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      if (this.stopped || this.c.gater.has(from)) {
        stream.abort(new Error('peer blocked'));
        return;
      }
      try {
        decoder.push(evt.data, onFrame);
        // A big message under way (a heal's diff): its receiver knows the answer is coming.
        if (decoder.partialLength >= RECEIVING_MIN_BYTES) this.c.inbox.receiving(from, decoder.pendingBytes, decoder.partialLength);
      } catch (e) {
        this.c.stats.rejectedFrames++;
        this.c.log.warnOnce(`frame:${from}`, 'refused frame over maxMessageBytes (or malformed); resetting sync stream', {
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
}

export function syncStreams(init: SyncStreamsInit): (components: SyncStreamsComponents) => SyncStreams {
  return (components) => new SyncStreams(components, init);
}
