// The simulated network: every message between peers goes through here, where the seed decides
// its delay (and so its order), whether it is dropped or duplicated, and whether a partition or a
// crashed peer swallows it. Links are directional, so one-way (asymmetric) partitions are possible.

import type { Rng } from '@agentmesh/scheduler';
import type { Transport, TransportHandlers } from '@agentmesh/peer';
import type { VirtualScheduler } from './scheduler.js';

export interface NetworkFaults {
  drop: number;
  duplicate: number;
  /** Message delay range, ms. A wide range reorders messages. */
  minDelayMs: number;
  maxDelayMs: number;
}

export const CALM: NetworkFaults = { drop: 0, duplicate: 0, minDelayMs: 1, maxDelayMs: 3 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  bytes: number;
}

export class SimNetwork {
  faults: NetworkFaults = { ...CALM };
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytes: 0 };
  private readonly up = new Map<string, SimTransport>();
  /** Blocked directed links, "from>to". */
  private readonly blocked = new Set<string>();

  constructor(
    private readonly sched: VirtualScheduler,
    private readonly rng: Rng,
  ) {}

  private linkOpen(from: string, to: string): boolean {
    return !this.blocked.has(`${from}>${to}`);
  }

  canSend(from: string, to: string): boolean {
    return from !== to && this.up.has(from) && this.up.has(to) && this.linkOpen(from, to);
  }

  /** Attaches a (re)started peer; everyone it can reach hears it connect. */
  attach(id: string): SimTransport {
    const t = new SimTransport(id, this);
    this.up.set(id, t);
    for (const other of this.up.keys()) {
      if (other === id) continue;
      if (this.canSend(other, id)) this.notify(other, 'connect', id);
      if (this.canSend(id, other)) this.notify(id, 'connect', other);
    }
    return t;
  }

  /** A crashed or stopped peer: its in-flight messages are lost. */
  detach(id: string): void {
    if (!this.up.delete(id)) return;
    for (const other of this.up.keys()) this.notify(other, 'disconnect', id);
  }

  isUp(id: string): boolean {
    return this.up.has(id);
  }

  /** True while some link is cut (a partition is on). */
  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  /** Replaces the set of blocked directed links, telling peers what they lost or regained. */
  setBlocked(links: Iterable<[string, string]>): void {
    const next = new Set<string>();
    for (const [a, b] of links) next.add(`${a}>${b}`);
    const before = new Set(this.blocked);
    this.blocked.clear();
    for (const l of next) this.blocked.add(l);
    for (const l of new Set([...before, ...next])) {
      const [a, b] = l.split('>') as [string, string];
      const wasOpen = !before.has(l);
      const isOpen = !next.has(l);
      if (wasOpen === isOpen || !this.up.has(a) || !this.up.has(b)) continue;
      this.notify(a, isOpen ? 'connect' : 'disconnect', b);
    }
  }

  blockedLinks(): number {
    return this.blocked.size;
  }

  peersOf(id: string): string[] {
    return [...this.up.keys()].filter((o) => this.canSend(id, o));
  }

  private notify(target: string, what: 'connect' | 'disconnect', peer: string): void {
    this.sched.at(0, () => {
      const t = this.up.get(target);
      if (!t) return;
      if (what === 'connect' && !this.canSend(target, peer)) return;
      t.handlers?.[what](peer);
    });
  }

  send(from: string, to: string, data: Uint8Array): void {
    this.stats.sent++;
    this.stats.bytes += data.byteLength;
    if (!this.canSend(from, to) || this.rng.chance(this.faults.drop)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const payload = data.slice();
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(this.faults.minDelayMs, this.faults.maxDelayMs);
      this.sched.at(delay, () => {
        // A partition or crash that happened while the message was in flight swallows it.
        if (!this.canSend(from, to)) {
          this.stats.dropped++;
          return;
        }
        this.stats.delivered++;
        this.up.get(to)?.handlers?.message(from, payload);
      });
    }
  }
}

export class SimTransport implements Transport {
  handlers: TransportHandlers | undefined;
  constructor(
    readonly localId: string,
    private readonly net: SimNetwork,
  ) {}
  connectedPeers(): string[] {
    return this.net.peersOf(this.localId);
  }
  send(to: string, data: Uint8Array): void {
    this.net.send(this.localId, to, data);
  }
  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
  }
}
