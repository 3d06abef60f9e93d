// Who could reach whom, and when: the simulator's own record of the network and crash state it
// imposes (partitions, crashed peers), kept as a history so that a run start can be judged later
// against everything that happened since an earlier run began. The exclusive-run check asks it
// whether a majority reached a peer lately; the duplicate-run ledger asks whether two peers were
// ever cut off from each other, or one of them down, within a time window.
//
// "A reaches B" means a directed path A -> ... -> B over links the simulated network lets through,
// every peer on it up (sync relays facts through third peers, so a path is enough). Drops, delays,
// duplicates and reordering never cut a path: they are noise a correct protocol must absorb.

/** What the simulator's network lets the tracker see. */
export interface Topology {
  /** The peer is attached (started, not crashed). */
  isUp(id: string): boolean;
  /** The directed link from -> to lets messages through now (both up, not blocked). */
  canSend(from: string, to: string): boolean;
}

/** Closed history of one condition: half-open intervals [from, to), `to` Infinity while it lasts. */
class Intervals {
  private readonly spans: [number, number][] = [];
  private since: number | undefined;

  set(on: boolean, now: number): void {
    if (on && this.since === undefined) this.since = now;
    else if (!on && this.since !== undefined) {
      if (now > this.since) this.spans.push([this.since, now]);
      this.since = undefined;
    }
  }

  get on(): boolean {
    return this.since !== undefined;
  }

  /** When the condition last stopped holding at or before `t` (undefined: it held at `t`, or never ended by then). */
  lastEndAtOrBefore(t: number): number | undefined {
    if (this.since !== undefined && this.since <= t) return undefined;
    for (let i = this.spans.length - 1; i >= 0; i--) {
      const e = this.spans[i]![1];
      if (e <= t) return e;
    }
    return undefined;
  }

  /** The condition held at some moment of [from, to] (inclusive: a cut that starts at `to` counts). */
  during(from: number, to: number): boolean {
    if (this.since !== undefined && this.since <= to) return true;
    // Spans are appended in time order; scan from the newest, stop once they end before `from`.
    for (let i = this.spans.length - 1; i >= 0; i--) {
      const [s, e] = this.spans[i]!;
      if (e <= from) return false;
      if (s <= to) return true;
    }
    return false;
  }
}

export class Reachability {
  /** For each peer, the peers with a directed path to it: Infinity while they have one, else the time they lost it. */
  private readonly reach = new Map<string, Map<string, number>>();
  /** "a>b": both up and no directed path from a to b. */
  private readonly cuts = new Map<string, Intervals>();
  /** Peers down (crashed, not yet restarted). */
  private readonly downs = new Map<string, Intervals>();

  constructor(
    private readonly ids: readonly string[],
    private readonly topo: Topology,
    private readonly now: () => number,
  ) {
    for (const a of ids) {
      this.downs.set(a, new Intervals());
      for (const b of ids) if (a !== b) this.cuts.set(`${a}>${b}`, new Intervals());
    }
  }

  /** The peers with a directed path to `id` (itself included), over up peers only. */
  reachers(id: string): Set<string> {
    const seen = new Set([id]);
    const todo = [id];
    while (todo.length) {
      const a = todo.pop()!;
      for (const n of this.ids) {
        if (!seen.has(n) && this.topo.canSend(n, a)) {
          seen.add(n);
          todo.push(n);
        }
      }
    }
    return seen;
  }

  /** Records the current state: call after every partition change, crash and restart. */
  update(): void {
    const t = this.now();
    for (const id of this.ids) {
      const up = this.topo.isUp(id);
      this.downs.get(id)!.set(!up, t);
      const now = up ? this.reachers(id) : new Set<string>();
      const row = this.reach.get(id) ?? new Map<string, number>();
      for (const [q, until] of row) if (until === Infinity && !now.has(q)) row.set(q, t);
      for (const q of now) row.set(q, Infinity);
      this.reach.set(id, row);
      for (const q of this.ids) {
        if (q === id) continue;
        this.cuts.get(`${q}>${id}`)!.set(up && this.topo.isUp(q) && !now.has(q), t);
      }
    }
  }

  /** Peers (itself included) that had a path to `id` within the last `withinMs`. */
  reachedRecently(id: string, withinMs: number): number {
    const t = this.now();
    let count = 0;
    for (const until of (this.reach.get(id) ?? new Map<string, number>()).values()) if (t - until <= withinMs) count++;
    return count;
  }

  /** Both up and no directed path from `from` to `to` right now. */
  cutNow(from: string, to: string): boolean {
    return this.cuts.get(`${from}>${to}`)?.on ?? false;
  }

  isDown(id: string): boolean {
    return this.downs.get(id)?.on ?? false;
  }

  /** At some moment of [from, to], both a and b were up and one could not reach the other. */
  cutDuring(a: string, b: string, from: number, to: number): boolean {
    if (a === b) return false;
    return this.cuts.get(`${a}>${b}`)!.during(from, to) || this.cuts.get(`${b}>${a}`)!.during(from, to);
  }

  /** When the peer last came back up (restarted) at or before `t`, if it ever crashed by then. */
  upAgainAt(id: string, t: number): number | undefined {
    return this.downs.get(id)!.lastEndAtOrBefore(t);
  }

  /** The peer was down (crashed) at some moment of [from, to]. */
  downDuring(id: string, from: number, to: number): boolean {
    return this.downs.get(id)!.during(from, to);
  }
}
