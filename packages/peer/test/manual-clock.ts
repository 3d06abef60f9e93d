// A clock for tests that moves only when told to (shared by the tests of timers, dials, pulls and
// sync costs): timers run in time order, each at its own time; `block` moves time as a stalled
// event loop would (no timer runs, and the loop-busy counter grows when the clock tells it).
import type { Clock, TimerId } from '../src/clock.js';

export class ManualClock implements Clock {
  t: number;
  /** What busyMs() returns (when the clock tells busy time at all). */
  busy = 0;
  private next = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(opts: { start?: number; tellsBusy?: boolean } = {}) {
    this.t = opts.start ?? 1_000_000;
    if (opts.tellsBusy) this.busyMs = () => this.busy;
  }

  busyMs?: () => number;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.timers.delete(id as number);
  }

  /** Timers not run yet. */
  get pending(): number {
    return this.timers.size;
  }

  /** The loop was blocked for `ms`: time and the busy counter move together, no timer runs. */
  block(ms: number): void {
    this.t += ms;
    this.busy += ms;
  }

  /** Runs every timer due up to now + `ms`, in time order (then creation order). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let due = this.popDue(end); due; due = this.popDue(end)) due();
    this.t = end;
  }

  /** advance() that lets promise callbacks settle (`between`) before and after each timer. */
  async advanceAsync(ms: number, between: () => Promise<void>): Promise<void> {
    const end = this.t + ms;
    await between();
    for (let due = this.popDue(end); due; due = this.popDue(end)) {
      due();
      await between();
    }
    this.t = end;
  }

  /** Takes the next timer due by `end` (time moves to it), if any. */
  private popDue(end: number): (() => void) | undefined {
    let best: [number, { at: number; fn: () => void }] | undefined;
    for (const e of this.timers) if (e[1].at <= end && (!best || e[1].at < best[1].at || (e[1].at === best[1].at && e[0] < best[0]))) best = e;
    if (!best) return undefined;
    this.timers.delete(best[0]);
    this.t = best[1].at;
    return best[1].fn;
  }
}
