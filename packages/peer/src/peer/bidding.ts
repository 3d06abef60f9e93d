// Bidding: which pending tasks this peer bids on and when, what it reserves for them (a run slot
// and a token of its rate bucket, so it never commits to more than its capacity), the shortlist
// ranks that let peers work disjoint parts of a burst, the bid window stretched to the network and
// the event loop, and the claim once the award (a pure function of the bids) names this peer.

import {
  canRun,
  compareBids,
  makeBid,
  newBucket,
  refill,
  shortlist,
  tryTake,
  unitHash,
  type Bid,
  type ObjectiveWeights,
  type TaskSpec,
  type TaskView,
  type TokenBucket,
} from '@agentmesh/scheduler';
import type { SyncEngine } from '../sync/engine.js';
import type { PeerContext } from './context.js';
import type { EligiblePeer, Liveness } from './liveness.js';
import type { Pass } from './pass.js';
import type { Runs } from './runs.js';
import type { Views } from './views.js';

/** How long the sorted pending pool may be reused. */
const POOL_ORDER_MS = 250;

/** Granularity of "older first" when a peer picks from a backlog (see `bid`). */
const AGE_BUCKET_MS = 500;

/** Higher priority first, then older first, then by id: the order in which a free peer bids. */
function byPriorityThenAge(a: TaskSpec, b: TaskSpec): number {
  return b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export interface BiddingDeps {
  runs: Runs;
  views: Views;
  liveness: Liveness;
  sync: SyncEngine;
  /** Peers shortlisted per task. */
  k: number;
  weights: ObjectiveWeights;
}

export class Bidding {
  /** Tasks this peer bid on and holds a slot and a token for. */
  private readonly reserved = new Set<string>();
  /** When this peer bid on each reserved task (its clock). */
  private readonly bidAt = new Map<string, number>();
  private bucket: TokenBucket;
  /** Live tasks that were pending (no claim, no bid of ours) when last evaluated. */
  private readonly pendingPool = new Set<string>();
  /** The pending pool sorted by priority and age, rebuilt now and then (see scanPool). */
  private poolOrder: { at: number; list: TaskSpec[] } | undefined;
  private rankCache: { sig: string; ranks: Map<string, number> } = { sig: '', ranks: new Map() };
  /** Recent event-loop lag, ms (decaying maximum of how late the tick timer fired). */
  private loopLag = 0;
  /** When this peer (re)started: its bids from before are renewed, not claimed. */
  private startedAt = -Infinity;

  constructor(
    private readonly ctx: PeerContext,
    private readonly deps: BiddingDeps,
  ) {
    this.bucket = newBucket(ctx.clock.now(), this.burst());
  }

  private burst(): number {
    // At least 2: the loop looks at the bucket once per tick, and a bucket capped at 1 would
    // waste the part of a token that accrues between a refill and the next tick.
    const self = this.ctx.self;
    return Math.max(2, Math.min(self.concurrency, Math.ceil(self.capacity / 10)));
  }

  // ---- reservations ------------------------------------------------------------------------------

  /**
   * A bid reserves a run slot and a token of the rate bucket at once, so a peer never commits to
   * more than `capacity` tasks/s however long its bids wait; a bid that loses gives the token back.
   */
  private reserve(id: string): void {
    const now = this.ctx.clock.now();
    const capacity = this.ctx.self.capacity;
    this.bidAt.set(id, now);
    if (this.reserved.has(id)) return;
    this.bucket = tryTake(refill(this.bucket, now, capacity, this.burst()), now, capacity, this.burst()).bucket;
    this.reserved.add(id);
  }

  /** Gives up a reservation that did not become a run, with its token. */
  release(id: string): void {
    this.bidAt.delete(id);
    if (!this.reserved.delete(id)) return;
    this.bucket = { ...this.bucket, tokens: Math.min(this.burst(), this.bucket.tokens + 1) };
  }

  /** The peer started at `now`: bids it finds from before then are from a previous life. */
  started(now: number): void {
    this.startedAt = now;
  }

  /** Takes a token of the rate bucket for a run that needs no bid (an assigned task); false when none is left. */
  takeToken(now: number): boolean {
    const capacity = this.ctx.self.capacity;
    const taken = tryTake(this.bucket, now, capacity, this.burst());
    this.bucket = taken.bucket;
    return taken.ok;
  }

  /** Gives back a token taken for a run that did not start. */
  returnToken(): void {
    this.bucket = { ...this.bucket, tokens: Math.min(this.burst(), this.bucket.tokens + 1) };
  }

  /** A reservation became a run: its token is spent on it. */
  spend(id: string): void {
    this.reserved.delete(id);
  }

  isReserved(id: string): boolean {
    return this.reserved.has(id);
  }

  /** Reserved tasks whose bid window has passed (or all of them on a sweep). */
  due(now: number, all: boolean): string[] {
    const window = this.bidWindow();
    const out: string[] = [];
    for (const id of this.reserved) if (all || now - (this.bidAt.get(id) ?? -Infinity) >= window) out.push(id);
    return out;
  }

  /** Drops every reservation (the peer is stopping). */
  clear(): void {
    this.reserved.clear();
  }

  freeSlots(): number {
    return this.ctx.self.concurrency - this.deps.runs.count - this.reserved.size;
  }

  /** Runs plus reservations: what a bid and a heartbeat report as this peer's load. */
  load(): number {
    return this.deps.runs.count + this.reserved.size;
  }

  // ---- the pending pool --------------------------------------------------------------------------

  poolAdd(id: string): void {
    this.pendingPool.add(id);
  }

  poolDelete(id: string): void {
    this.pendingPool.delete(id);
  }

  poolHas(id: string): boolean {
    return this.pendingPool.has(id);
  }

  get poolSize(): number {
    return this.pendingPool.size;
  }

  /**
   * With free capacity, also looks at pending tasks the pass did not evaluate, best first, and adds
   * those this peer may bid on now to the pass's candidates. The scan is bounded per pass.
   * `recheck` gets tasks that are no longer pending (their state changed without an event).
   */
  scanPool(pass: Pass, recheck: (id: string) => void): void {
    if (this.ctx.quiet() || this.freeSlots() <= 0 || this.pendingPool.size <= pass.candidates.length) return;
    const { now } = pass;
    const board = this.ctx.board();
    const self = this.ctx.self;
    const want = this.freeSlots() * 4;
    // The pool's order is rebuilt at most every few ticks: sorting a large backlog on every
    // pass (each remote change triggers one) would starve the event loop. Tasks that arrived
    // since are candidates anyway (they were dirty).
    if (!this.poolOrder || now - this.poolOrder.at >= POOL_ORDER_MS) {
      const list = [...this.pendingPool].map((id) => board.getSpec(id)).filter((s): s is TaskSpec => s !== undefined);
      list.sort(byPriorityThenAge);
      this.poolOrder = { at: now, list };
    }
    // Only tasks this peer may bid on now count.
    const stagger = this.stagger();
    let ranksReady = false;
    let taken = 0;
    let scanned = 0;
    for (const spec of this.poolOrder.list) {
      if (taken >= want || scanned >= want * 8 + 64) break;
      if (pass.ids.has(spec.id) || !this.pendingPool.has(spec.id) || !canRun(spec, self.capabilities)) continue;
      scanned++;
      const facts = board.getFacts(spec.id);
      if (!facts) continue;
      const v = this.deps.views.derive(spec.id, facts, now, pass.memo);
      if (v.state !== 'pending' && v.state !== 'claimed') {
        recheck(spec.id);
        continue;
      }
      const own = v.bids.find((b) => b.peer === self.id);
      if (own && own.at >= this.startedAt) continue;
      if (now < v.eligibleAt || v.blockedBy.length > 0) continue;
      const waited = now - v.roundOpenedAt;
      if (waited < this.ctx.timing.openAfterMs) {
        const alive = pass.alivePeers();
        if (!ranksReady) {
          this.useRankCache(alive);
          ranksReady = true;
        }
        const r = this.rankOf(spec, v.round, alive);
        if (r < 0 || r >= this.deps.k || waited < r * stagger) continue;
      }
      pass.candidates.push(own ? { view: v, spec, renew: true } : { view: v, spec });
      taken++;
    }
  }

  // ---- timing ------------------------------------------------------------------------------------

  /** The tick timer fired `lateMs` late: the bid window and stagger stretch to cover a starved loop. */
  noteLag(lateMs: number): void {
    this.loopLag = Math.max(Math.max(0, lateMs), this.loopLag * 0.95);
  }

  /**
   * How long a bidder waits for competing bids: the configured window, stretched to twice the
   * measured round trip and three times the recent event-loop lag, so that on a slow network or a
   * starved machine a rival's bid arrives before the award.
   */
  bidWindow(): number {
    const t = this.ctx.timing;
    return Math.min(t.maxBidWindowMs, Math.max(t.bidWindowMs, 2 * this.deps.sync.maxRtt(), 3 * this.loopLag));
  }

  /** How long the rank-i peer of a shortlist waits per rank: stretched to cover a slow network. */
  stagger(): number {
    const t = this.ctx.timing;
    return Math.min(t.maxBidWindowMs, Math.max(t.staggerMs, 2 * this.deps.sync.maxRtt(), 3 * this.loopLag));
  }

  /** Timing the peer adapts to the network and its own load (for diagnostics). */
  timingNow(): { bidWindowMs: number; staggerMs: number; maxRttMs: number; loopLagMs: number; running: number; reserved: number; pendingPool: number } {
    return { bidWindowMs: this.bidWindow(), staggerMs: this.stagger(), maxRttMs: this.deps.sync.maxRtt(), loopLagMs: this.loopLag, running: this.deps.runs.count, reserved: this.reserved.size, pendingPool: this.pendingPool.size };
  }

  // ---- the award ---------------------------------------------------------------------------------

  /**
   * The best bid of the current round whose bidder is alive and has not given up on it. A bidder
   * has given up when a heartbeat it wrote well after its bid (both stamped by its own clock, so no
   * skew) has arrived with no claim: its updates arrive in order, so a claim written before that
   * heartbeat would be here. Evidence, not elapsed time: a stalled process does not expire bids.
   */
  bestLiveBid(v: TaskView, now: number, ignoreOwn = false): Bid | undefined {
    const t = this.ctx.timing;
    for (const b of v.bids) {
      if (b.peer === this.ctx.id) {
        if (ignoreOwn) continue;
        return b;
      }
      if (!this.deps.liveness.isAlive(b.peer, now)) continue;
      const at = this.deps.liveness.lastDirectAt(b.peer);
      if (at !== undefined && at - b.at > t.maxBidWindowMs + t.bidStaleMs) continue;
      return b;
    }
    return undefined;
  }

  /** Keeps the shortlist rank cache while the alive peers (and their capacities and capabilities) stay the same. */
  private useRankCache(all: EligiblePeer[]): void {
    const sig = all.map((p) => `${p.id}:${p.capacity}:${p.capabilities.join('+')}`).join(',');
    if (this.rankCache.sig !== sig) this.rankCache = { sig, ranks: new Map() };
  }

  /** This peer's rank on a task's shortlist, cached while the alive peers stay the same (see useRankCache). */
  private rankOf(spec: TaskSpec, round: number, all: EligiblePeer[]): number {
    const key = `${spec.id}/${round}`;
    let r = this.rankCache.ranks.get(key);
    if (r === undefined) {
      const eligible = all.filter((p) => canRun(spec, p.capabilities));
      r = shortlist(spec.id, round, eligible, this.deps.k).indexOf(this.ctx.id);
      if (this.rankCache.ranks.size > 50_000) this.rankCache.ranks.clear();
      this.rankCache.ranks.set(key, r);
    }
    return r;
  }

  /** Bids on the pass's candidates (best first) while a slot and a token are free. */
  bid(pass: Pass): void {
    const { ctx } = this;
    const { now, candidates } = pass;
    const self = ctx.self;
    const k = this.deps.k;
    // No free slot or no token: nothing to rank (most passes under a backlog).
    this.bucket = refill(this.bucket, now, self.capacity, this.burst());
    if (this.freeSlots() <= 0 || this.bucket.tokens < 1) return;
    // Rank of this peer on each task's shortlist (0 = first choice, k = not listed, the task is open).
    const all = pass.alivePeers();
    this.useRankCache(all);
    const ranked = candidates.map((c) => {
      const rank = this.rankOf(c.spec, c.view.round, all);
      const age = now - c.view.roundOpenedAt;
      return { ...c, rank: rank < 0 ? k : rank, starving: age >= ctx.timing.starveAfterMs, ageBucket: Math.floor(age / AGE_BUCKET_MS), spread: unitHash(c.spec.id, self.id) };
    });
    // Priority first; then (unless a task is starving) tasks where this peer is the first choice,
    // so peers work disjoint sets in a burst; then older first, in coarse age buckets, and within a
    // bucket in an order of this peer's own (a hash), so free peers spread over a backlog instead
    // of all racing for the one oldest task.
    ranked.sort(
      (a, b) =>
        b.spec.priority - a.spec.priority ||
        (a.starving === b.starving ? 0 : a.starving ? -1 : 1) ||
        (a.starving ? 0 : a.rank - b.rank) ||
        b.ageBucket - a.ageBucket ||
        a.spread - b.spread,
    );
    this.bucket = refill(this.bucket, now, self.capacity, this.burst());
    const stagger = this.stagger();
    const bids: [string, Bid, boolean][] = [];
    const fast: { spec: TaskSpec; round: number; bid: Bid }[] = [];
    for (const { view: v, spec, rank, renew } of ranked) {
      if (this.freeSlots() <= 0) break;
      if (this.bucket.tokens < 1) break;
      if (now < v.eligibleAt || v.blockedBy.length > 0) continue;
      if (!canRun(spec, self.capabilities)) continue;
      const waited = now - v.roundOpenedAt;
      const open = waited >= ctx.timing.openAfterMs;
      if (!open && (rank >= k || waited < rank * stagger)) continue;
      const bid = makeBid(spec.strategy, spec, { id: self.id, capabilities: self.capabilities, capacity: self.capacity, concurrency: self.concurrency, load: this.load() }, {
        round: v.round,
        at: now,
        seed: ctx.meshSeed,
        weights: this.deps.weights,
      });
      if (!bid) continue;
      if (!renew && !spec.exclusive && rank === 0 && v.bids.length === 0 && waited < stagger && v.round === 1 && now - spec.createdAt < stagger) {
        // Fast path: the first choice claims at once (no bid window, no second message) while
        // nobody else may bid yet: the others wait `stagger` from when they saw the task. The age
        // check against the creator's clock guards against having seen the task late; clock skew
        // can only turn the fast path off, never make it unsafe.
        fast.push({ spec, round: v.round, bid });
        this.reserve(spec.id);
        continue;
      }
      const best = this.bestLiveBid(v, now, renew === true);
      if (best && compareBids(best, bid, spec.id) < 0) continue;
      bids.push([spec.id, bid, renew === true]);
      this.reserve(spec.id);
    }
    if (bids.length === 0 && fast.length === 0) return;
    const started: { spec: TaskSpec; round: number }[] = [];
    const board = ctx.board();
    board.transact(() => {
      for (const [id, b, renew] of bids) {
        if (board.putBid(id, b, renew)) {
          ctx.counters.bids++;
          ctx.emit('bid', { id, round: b.round, score: b.score });
        }
      }
      for (const f of fast) {
        if (!board.putBid(f.spec.id, f.bid) || !board.putClaim(f.spec.id, { peer: self.id, round: f.round, score: f.bid.score, at: now })) {
          this.release(f.spec.id);
          continue;
        }
        ctx.counters.bids++;
        ctx.counters.claims++;
        this.spend(f.spec.id); // its token is spent on the run
        started.push(f);
      }
    });
    for (const f of started) this.deps.runs.start(f.spec.id, f.spec, f.round, undefined, true);
  }

  /** The award named this peer for a (non-exclusive) task: claim it and run it. */
  claimAndRun(id: string, spec: TaskSpec, v: TaskView, bid: Bid): void {
    const now = this.ctx.clock.now();
    if (!this.ctx.board().putClaim(id, { peer: this.ctx.id, round: v.round, score: bid.score, at: now })) {
      this.release(id);
      return;
    }
    this.spend(id); // its token is spent on the run
    this.ctx.counters.claims++;
    this.deps.runs.start(id, spec, v.round, undefined, true);
  }
}
