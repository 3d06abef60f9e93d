// The sync engine's side of the transport: the handlers it set, and the messages that arrived
// before it set them (kept, at most 256 messages and 16 MiB, and delivered then). A handler that
// throws is logged, never rethrown into libp2p.

import type { TransportHandlers } from '../transport.js';
import { errText } from './diagnostics.js';
import type { MeshComponents } from './service.js';

const EARLY_MAX_MESSAGES = 256;
const EARLY_MAX_BYTES = 16 * 1024 * 1024;

export class Inbox {
  private handlers: TransportHandlers | undefined;
  private early: { from: string; data: Uint8Array }[] = [];
  private earlyBytes = 0;
  private closed = false;

  constructor(private readonly c: Pick<MeshComponents, 'log' | 'stats'>) {}

  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const m of early) this.call('message', m.from, m.data);
  }

  /** A whole message from `from` (direct frame or gossip). */
  deliver(from: string, data: Uint8Array): void {
    this.c.stats.receivedMessages++;
    this.c.stats.receivedBytes += data.byteLength;
    if (!this.handlers) {
      if (this.early.length < EARLY_MAX_MESSAGES && this.earlyBytes + data.byteLength <= EARLY_MAX_BYTES) {
        this.early.push({ from, data });
        this.earlyBytes += data.byteLength;
      } else {
        this.c.stats.dropped++;
      }
      return;
    }
    this.call('message', from, data);
  }

  /** Part of a big message from `from` arrived (see TransportHandlers.receiving). */
  receiving(from: string, received: number, bytes: number): void {
    const h = this.handlers;
    if (!h?.receiving || this.closed) return;
    try {
      h.receiving(from, received, bytes);
    } catch (e) {
      this.c.log.log('error', 'transport receiving handler threw', { peer: from, error: errText(e) });
    }
  }

  connect(peer: string): void {
    this.call('connect', peer);
  }

  disconnect(peer: string): void {
    this.call('disconnect', peer);
  }

  /** No handler is called after this; early messages are dropped. */
  close(): void {
    this.closed = true;
    this.early = [];
    this.earlyBytes = 0;
  }

  private call(kind: 'message', from: string, data: Uint8Array): void;
  private call(kind: 'connect' | 'disconnect', peer: string): void;
  private call(kind: 'message' | 'connect' | 'disconnect', peer: string, data?: Uint8Array): void {
    const h = this.handlers;
    if (!h || this.closed) return;
    try {
      if (kind === 'message') h.message(peer, data!);
      else if (kind === 'connect') h.connect(peer);
      else h.disconnect(peer);
    } catch (e) {
      this.c.log.log('error', `transport ${kind} handler threw`, { peer, error: errText(e) });
    }
  }
}
