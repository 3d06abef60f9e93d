// Virtual time for the simulator: one global event queue ordered by (time, sequence), so every
// timer and every message delivery happens in the same order on every run of the same seed.
// Each peer incarnation gets its own Clock view (with its clock skew); crashing an incarnation
// cancels all of its timers at once.

import type { Clock, TimerId } from '@agentmesh/peer';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  owner: number;
  cancelled: boolean;
}

/** A binary min-heap of events by (at, seq). */
class EventHeap {
  private items: Event[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Event | undefined {
    return this.items[0];
  }
  push(e: Event): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(a[p]!, a[i]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): Event | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class VirtualScheduler {
  private readonly heap = new EventHeap();
  private seq = 0;
  private nextOwner = 1;
  private readonly ownerEvents = new Map<number, Set<Event>>();
  /** Global virtual time, ms. */
  time = 0;
  eventsRun = 0;

  at(delayMs: number, fn: () => void, owner = 0): Event {
    const e: Event = { at: this.time + Math.max(0, delayMs), seq: this.seq++, fn, owner, cancelled: false };
    this.heap.push(e);
    if (owner !== 0) {
      let set = this.ownerEvents.get(owner);
      if (!set) this.ownerEvents.set(owner, (set = new Set()));
      set.add(e);
    }
    return e;
  }

  cancel(e: Event): void {
    e.cancelled = true;
    this.ownerEvents.get(e.owner)?.delete(e);
  }

  /** A new owner id: all its events can be cancelled at once (a crashed peer). */
  newOwner(): number {
    return this.nextOwner++;
  }

  cancelOwner(owner: number): void {
    const set = this.ownerEvents.get(owner);
    if (!set) return;
    for (const e of set) e.cancelled = true;
    this.ownerEvents.delete(owner);
  }

  /** A Clock for one peer incarnation: its now() is skewed, its timers belong to `owner`. */
  clockFor(owner: number, skewMs: number): Clock {
    return {
      now: () => this.time + skewMs,
      setTimeout: (fn, ms): TimerId => this.at(ms, fn, owner),
      clearTimeout: (id) => {
        if (id) this.cancel(id as Event);
      },
    };
  }

  /**
   * Runs every event due up to `until`, draining promise continuations after each batch so async
   * code (agents, storage) runs at the virtual time it belongs to.
   */
  async runUntil(until: number, drain: () => Promise<void>, maxEvents = 2_000_000): Promise<void> {
    let budget = maxEvents;
    for (;;) {
      let ran = 0;
      for (let e = this.heap.peek(); e && e.at <= until; e = this.heap.peek()) {
        this.heap.pop();
        if (e.cancelled) continue;
        if (e.owner !== 0) this.ownerEvents.get(e.owner)?.delete(e);
        this.time = Math.max(this.time, e.at);
        e.fn();
        ran++;
        this.eventsRun++;
        if (--budget <= 0) throw new Error(`simulator: more than ${maxEvents} events in one step (a livelock?)`);
      }
      await drain();
      const next = this.heap.peek();
      if (ran === 0 && (!next || next.at > until)) break;
    }
    this.time = until;
  }
}

/** Lets every pending promise continuation run (a macrotask turn drains the microtask queue). */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
