// The message transport a peer syncs over: whatever carries bytes between named peers.
// libp2p streams, the simulator's faulty network and the in-memory hub below all implement it.

export interface TransportHandlers {
  message(from: string, data: Uint8Array): void;
  connect(peer: string): void;
  disconnect(peer: string): void;
  /**
   * Part of a big message from `from` arrived (`received` of its `bytes`); the rest is on its way.
   * Optional on both sides: a transport that hands over whole messages only never calls it.
   */
  receiving?(from: string, received: number, bytes: number): void;
}

export interface Transport {
  /** This peer's id on the transport. */
  readonly localId: string;
  /** Peers this one can send to right now. */
  connectedPeers(): readonly string[];
  /**
   * Best effort: may be dropped, delayed, duplicated or reordered by the network. What arrives is
   * the bytes as they were when send() was called: the caller may reuse its buffer afterwards.
   */
  send(to: string, data: Uint8Array): void;
  /** Optional one-to-all send (e.g. pub/sub); when absent, the sync sends to each peer. */
  broadcast?(data: Uint8Array): void;
  setHandlers(h: TransportHandlers): void;
  close?(): void | Promise<void>;
}

/**
 * An in-memory hub for unit tests: every transport joined to it is connected to every other,
 * and messages are delivered asynchronously (microtask) in send order.
 */
export class MemoryHub {
  private readonly nodes = new Map<string, MemoryTransport>();

  join(id: string): MemoryTransport {
    const t = new MemoryTransport(id, this);
    for (const other of this.nodes.values()) {
      queueMicrotask(() => {
        other.handlers?.connect(id);
        t.handlers?.connect(other.localId);
      });
    }
    this.nodes.set(id, t);
    return t;
  }

  leave(id: string): void {
    if (!this.nodes.delete(id)) return;
    for (const other of this.nodes.values()) queueMicrotask(() => other.handlers?.disconnect(id));
  }

  /** @internal */
  deliver(from: string, to: string, data: Uint8Array): void {
    const target = this.nodes.get(to);
    if (!target) return;
    const copy = data.slice();
    queueMicrotask(() => target.handlers?.message(from, copy));
  }

  /** @internal */
  ids(): string[] {
    return [...this.nodes.keys()];
  }
}

export class MemoryTransport implements Transport {
  handlers: TransportHandlers | undefined;
  constructor(
    readonly localId: string,
    private readonly hub: MemoryHub,
  ) {}
  connectedPeers(): string[] {
    return this.hub.ids().filter((id) => id !== this.localId);
  }
  send(to: string, data: Uint8Array): void {
    this.hub.deliver(this.localId, to, data);
  }
  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
  }
  close(): void {
    this.hub.leave(this.localId);
  }
}
