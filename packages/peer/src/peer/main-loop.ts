// The peer's main loop: a tick every few milliseconds while the peer has work (heartbeat, fencing
// of exclusive runs, archive restores, a pass, the rollover check, the storage group commit), a
// tick per heartbeat when it has none (a document update or a submit wakes it), and a pass soon
// after any remote change. A pass looks at the tasks that changed (on a sweep also those time alone
// may have changed: see sweep-index.ts), expires lapsed leases, starts assigned tasks, claims where
// the award named this peer, and bids on what it may run, all in one transaction. It owns which
// tasks must be looked at again.

import { isTerminal, type TaskFacts, type TaskView } from '@agentmesh/scheduler';
import type { BoardChange, TaskBoard } from '@agentmesh/crdt-store';
import type { TimerId } from '../clock.js';
import type { SyncEngine } from '../sync/engine.js';
import type { Archiver } from './archiver.js';
import type { Assigned } from './assigned.js';
import type { Bidding } from './bidding.js';
import type { PeerContext } from './context.js';
import type { Durability } from './durability.js';
import type { Generations } from './generations.js';
import type { Liveness } from './liveness.js';
import { Pass } from './pass.js';
import type { Presence } from './presence.js';
import type { Quorum } from './quorum.js';
import type { Runs } from './runs.js';
import { SweepIndex } from './sweep-index.js';
import type { Views } from './views.js';

export interface MainLoopDeps {
  archiver: Archiver;
  assigned: Assigned;
  views: Views;
  runs: Runs;
  bidding: Bidding;
  quorum: Quorum;
  generations: Generations;
  durability: Durability;
  liveness: Liveness;
  presence: Presence;
  sync: SyncEngine;
}

/** Changed tasks looked at in one pass at most (see processOnce). */
const PASS_MAX = 2000;

export class MainLoop {
  /** What a sweep looks at (held by others, timed, dependent or exclusive tasks). */
  private readonly sweepIndex = new SweepIndex();
  /** Tasks to look at in the next pass (insertion order is the order they are looked at). */
  private readonly dirty = new Set<string>();
  private processing = false;
  private tickTimer: TimerId | undefined;
  /** When the armed tick fires (its clock). */
  private tickDue = Infinity;
  private soonTimer: TimerId | undefined;
  private lastSweep = -Infinity;
  private lastBeat = -Infinity;
  private caughtUp = false;
  private startedAt = 0;
  private unsubscribeBoard: (() => void) | undefined;
  private unsubscribeDoc: (() => void) | undefined;

  constructor(
    private readonly ctx: PeerContext,
    private readonly deps: MainLoopDeps,
  ) {}

  /** The peer started at `now` with the board as loaded: every task is looked at, and the loop begins. */
  start(now: number): void {
    const board = this.ctx.board();
    for (const id of board.taskIds()) this.dirty.add(id);
    this.startedAt = now;
    this.caughtUp = !board.peers().some((p) => p.id !== this.ctx.id);
  }

  /** Watches a board for changes (at start and after each generation change). */
  watch(board: TaskBoard): void {
    this.unsubscribeBoard?.();
    this.unsubscribeDoc?.();
    this.unsubscribeBoard = board.onChange((c) => this.onBoardChange(c));
    // Any update (a task, a data write, a registry entry; ours or a peer's) wakes an idle loop.
    const wake = () => this.wake();
    board.doc.on('update', wake);
    this.unsubscribeDoc = () => board.doc.off('update', wake);
  }

  /** When the peer started (its clock). */
  get startTime(): number {
    return this.startedAt;
  }

  /** Has the peer caught up with the mesh since it started? */
  isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /** The tasks the next pass will look at. */
  dirtyIds(): ReadonlySet<string> {
    return this.dirty;
  }

  markDirty(id: string): void {
    this.dirty.add(id);
  }

  /** Marks a task changed locally (submit, cancel, retry). */
  touch(id: string): void {
    this.dirty.add(id);
    this.wake();
  }

  /** A task left the live document. */
  forget(id: string): void {
    this.sweepIndex.forget(id);
    this.deps.assigned.forget(id);
    this.dirty.delete(id);
  }

  private onBoardChange(c: BoardChange): void {
    if (c.deleted > 0) this.deps.archiver.onRemoved(c.removed, c.deleted, false, c.sheets, c.removedFacts);
    if (c.dropped.length > 0) this.deps.archiver.keepDropped(c.dropped, c.sheets);
    for (const id of c.tasks) {
      this.dirty.add(id);
      // A remote change may bring back a task archived here. So may a record of this peer's own
      // written after the task left (a run that ended late): the task then comes back live with
      // its archived facts and leaves again with that run, as it did on every replica that held
      // the record before the deletion.
      if (!this.deps.views.known(id) && (!c.local || !this.ctx.board().getSpec(id))) this.deps.generations.noteNew(id);
    }
    // A dependency that changed may unblock its dependents; they are found by the periodic sweep.
    if (c.tasks.size > 0 && !c.local) this.processSoon();
  }

  /**
   * Arms the next tick: in tickMs while the peer has work, else at its next heartbeat, archive
   * look or rollover check (at most idleTickMs away); wake() brings a sleeping tick forward.
   */
  scheduleTick(): void {
    if (this.ctx.stopped()) return;
    const { clock, timing } = this.ctx;
    const now = clock.now();
    if (this.hasWork()) return this.armTick(now, timing.tickMs);
    // Idle: the next heartbeat, archive look or rollover check, whichever comes first.
    const { archiver, generations } = this.deps;
    const next = Math.min(now + timing.idleTickMs, this.lastBeat + timing.heartbeatMs, archiver.nextCheckAt, generations.nextCheckAt);
    this.armTick(now, Math.max(timing.tickMs, next - now));
  }

  private armTick(now: number, ms: number): void {
    const { clock } = this.ctx;
    const due = now + ms;
    this.tickDue = due;
    this.tickTimer = clock.setTimeout(() => {
      this.tickTimer = undefined;
      this.tickDue = Infinity;
      // How late this timer fired: a starved process handles its messages just as late, so the
      // bid window and the stagger stretch to cover it (decaying maximum).
      const late = clock.now() - due;
      this.deps.bidding.noteLag(late);
      this.deps.liveness.stalled(late);
      this.tick();
      this.scheduleTick();
    }, ms);
  }

  /** Something happened (an update, a submit): a loop sleeping past the next tickMs ticks within it. */
  wake(): void {
    if (this.tickTimer === undefined || this.ctx.stopped()) return;
    const { clock, timing } = this.ctx;
    const now = clock.now();
    if (this.tickDue <= now + timing.tickMs) return;
    clock.clearTimeout(this.tickTimer);
    this.armTick(now, timing.tickMs);
  }

  /**
   * Does the next tick have anything to do before the next heartbeat? Tasks to look at, a live
   * task not seen to end (bids, leases, runs, dependencies all belong to one), archive slices to
   * delete, writes to flush, acknowledgements to send, a generation change under way, or not
   * caught up yet.
   */
  private hasWork(): boolean {
    const { deps } = this;
    return (
      !this.caughtUp ||
      this.dirty.size > 0 ||
      this.soonTimer !== undefined ||
      deps.runs.count > 0 ||
      deps.archiver.busy ||
      deps.durability.pending ||
      deps.presence.acksPending ||
      deps.generations.changing
    );
  }

  processSoon(): void {
    if (this.ctx.stopped() || this.soonTimer !== undefined) return;
    this.wake();
    this.soonTimer = this.ctx.clock.setTimeout(() => {
      this.soonTimer = undefined;
      this.process();
    }, 0);
  }

  /** One turn of the main loop: heartbeat, storage group commit, bidding and claiming. */
  tick(): void {
    if (this.ctx.stopped()) return;
    const now = this.ctx.clock.now();
    if (!this.ctx.quiet() && now - this.lastBeat >= this.ctx.timing.heartbeatMs) this.heartbeat();
    this.deps.quorum.fence(now);
    this.deps.presence.tickAcks();
    this.process();
    this.deps.archiver.maybeArchive(now);
    this.deps.generations.maybeRollover(now);
    this.deps.durability.maybeFlush(now);
  }

  /** Sends this peer's presence (its liveness and load, as others see them; not in the document). */
  heartbeat(): void {
    this.lastBeat = this.ctx.clock.now();
    this.deps.presence.beat();
  }

  /** Evaluates changed tasks (all live tasks on a sweep): expire lapsed leases, bid, claim, run. */
  process(): void {
    if (this.ctx.stopped() || this.processing) return;
    this.processing = true;
    try {
      this.processOnce();
    } finally {
      this.processing = false;
    }
  }

  private processOnce(): void {
    const { ctx, deps } = this;
    const now = ctx.clock.now();
    // A task back from the archive gets its archived facts before anything looks at it: else its
    // assignee could start a round it already ran.
    deps.generations.restoreFromArchive();
    // Runs waiting at the claim gate start once every peer that could run them acknowledged them.
    deps.runs.openGates(now);
    if (!this.caughtUp && (deps.sync.hasSynced() || now - this.startedAt >= ctx.timing.catchUpMs)) {
      this.caughtUp = true;
      ctx.log.log('debug', 'caught up', { with: deps.sync.syncedPeers(), afterMs: now - this.startedAt });
    }
    const settling = deps.generations.settling(now);
    const sweep = now - this.lastSweep >= ctx.timing.sweepMs;
    if (sweep) this.lastSweep = now;
    // At most PASS_MAX changed tasks per pass, the rest in the next turn: a burst (a heal, a big
    // batch) must not hold up this peer's presence and the messages waiting for it.
    let ids: Set<string>;
    if (this.dirty.size <= PASS_MAX) {
      ids = new Set<string>(this.dirty);
      this.dirty.clear();
    } else {
      ids = new Set<string>();
      for (const id of this.dirty) {
        ids.add(id);
        this.dirty.delete(id);
        if (ids.size >= PASS_MAX) break;
      }
      this.processSoon();
    }
    // A bid of ours is looked at again when its window has passed (or when its task changed).
    for (const id of deps.bidding.due(now, sweep)) ids.add(id);
    // The sweep re-derives what time alone can change (leases of holders no longer seen, timeouts,
    // dependencies, claims waiting for votes); pending tasks without a bid of ours are looked at
    // from the pool, and tasks assigned here from the queue, when a slot is free.
    const board = ctx.board();
    if (sweep) this.sweepIndex.collect(ids, (peer) => deps.liveness.isAlive(peer, now));
    const idle = deps.bidding.freeSlots() <= 0 || (deps.bidding.poolSize === 0 && deps.assigned.queued === 0);
    if (ids.size === 0 && idle) return;

    // One transaction for the whole pass: its claims, expiries, votes and bids go out as one update,
    // signed together (one signature for many: each reader checks it once).
    const pass = new Pass(now, settling, this.caughtUp, ids, deps.liveness);
    board.transactSigned(() => this.evaluate(pass));
  }

  /** The body of one pass (see processOnce). */
  private evaluate(pass: Pass): void {
    const { ctx, deps } = this;
    const board = ctx.board();
    for (const id of pass.ids) {
      const facts = board.getFacts(id);
      if (!facts) {
        // Gone from the board without leaving through archival (its entry overwritten by one that
        // does not count, its author removed): status no longer counts it.
        deps.views.forget(id);
        continue;
      }
      const v = deps.views.derive(id, facts, pass.now, pass.memo);
      pass.memo.set(id, v.state);
      deps.views.note(id, v);
      deps.archiver.note(id, facts.spec, facts, isTerminal(v.state));
      this.evaluateTask(pass, id, facts, v);
    }
    // Free capacity: start tasks assigned here, then look at pending tasks not evaluated in this pass.
    deps.assigned.startQueued(pass);
    deps.bidding.scanPool(pass, (id) => this.dirty.add(id));

    if (pass.votes.length > 0) {
      board.transact(() => {
        for (const [id, vote] of pass.votes) board.putVote(id, vote);
      });
    }
    if (pass.expiries.length > 0) {
      board.transact(() => {
        for (const [id, round] of pass.expiries) {
          if (board.putExpiry(id, { round, by: ctx.id, at: pass.now })) {
            ctx.counters.expiriesWritten++;
            ctx.log.log('info', 'lease expired', { task: id, round });
          }
        }
      });
      for (const [holder, why] of pass.silentHolders) ctx.log.log('info', 'holder silent: its leases expire', { holder, ...why });
    }
    if (pass.releases.length > 0) {
      board.transact(() => {
        for (const [id, round] of pass.releases) board.putRelease(id, { round, by: ctx.id, at: pass.now });
      });
    }
    if (pass.candidates.length > 0 && !ctx.quiet() && this.caughtUp && !pass.settling) deps.bidding.bid(pass);
  }

  /** What this peer does about one live task it just derived. */
  private evaluateTask(pass: Pass, id: string, facts: TaskFacts, v: TaskView): void {
    const { spec } = facts;
    const { ctx, deps } = this;
    const { runs, bidding } = deps;
    const runRound = runs.roundOf(id);
    bidding.poolDelete(id);
    if (isTerminal(v.state)) {
      this.sweepIndex.forget(id);
      deps.assigned.forget(id);
      bidding.release(id);
      if (runRound !== undefined && v.state === 'cancelled') runs.abort(id, 'cancelled');
      return;
    }
    // Nobody runs the current round yet: open to a bid, or to a carried-over run of ours.
    const unheld = v.state === 'pending' || (v.state === 'claimed' && v.assignee === undefined);
    if (unheld && runRound !== undefined && runRound < v.round && !v.claim && runs.carryOver(id, v.round)) {
      // Still running an earlier round that was closed under us (see the abort below): the run
      // under way claims this round instead of letting others start the task again.
      bidding.release(id);
      return;
    }
    if (runs.succeededHere(id)) {
      // Ran to success here, yet it looks unfinished: archival elsewhere took part of its facts
      // away (see Runs.succeeded). Never run, bid on or expire it again from this replica.
      deps.assigned.forget(id);
      bidding.release(id);
      return;
    }
    // A holder of an earlier round expired by a peer cut off from it, whom this replica still
    // sees alive: this peer leaves the new round alone (see Liveness.livingExpiredHolder).
    const waitFor = unheld ? deps.liveness.livingExpiredHolder(v, spec.timeoutMs, pass.now) : undefined;
    const holder = v.claim && v.state === 'running' ? v.claim.peer : v.state === 'claimed' ? (v.assignee ?? waitFor) : waitFor;
    const other = holder !== undefined && holder !== ctx.id ? holder : undefined;
    if (runRound !== undefined && v.claim && v.claim.round === runRound && v.claim.peer !== ctx.id && deps.liveness.aliveSince(v.claim.peer, v.claim.at, pass.now)) {
      // Another peer's claim of the same round won the award, and that peer is here to run it: stop
      // ours. (A winner we do not see alive, or that restarted since its claim, will not run it:
      // ours goes on, and takes the next round over when that claim lapses; see carryOver.)
      runs.abort(id, `claim of round ${runRound} went to ${v.claim.peer}`);
    }
    const quorum = spec.exclusive === true && deps.quorum.handle(pass, id, spec, v);
    const assigned = !quorum && deps.assigned.consider(pass, id, spec, v);
    // Sweeps look at what time alone can change: another holder's lease, a timeout, dependencies,
    // quorum votes, and a round assigned here that waits for its delay or backoff.
    this.sweepIndex.note(id, other, other !== undefined && spec.timeoutMs > 0, spec.dependsOn.length > 0 || spec.exclusive === true || deps.assigned.isWaiting(id));
    if (quorum || assigned) return;
    if (v.state === 'running' && v.claim) {
      bidding.release(id);
      if (v.claim.peer === ctx.id && !runs.has(id) && !runs.outcomePending(id)) {
        // Our own claim from before a restart: nobody runs it, release it at once.
        pass.expiries.push([id, v.round]);
      } else if (v.lapsed && v.claim.peer !== ctx.id && pass.mayExpire(v.claim.peer)) {
        pass.expiries.push([id, v.round]);
      }
      return;
    }
    // Rounds of ours another peer expired while we did not run them: given back, so that peers
    // that see us alive do not wait for us (Liveness.livingExpiredHolder).
    if (!runs.has(id)) {
      for (const h of v.expiredHolders) if (h.peer === ctx.id) pass.releases.push([id, h.round]);
      // Our release lost the document's last-writer-wins to an expiry written concurrently (by a
      // peer that had not seen it): this replica merged both, but a replica that got that expiry
      // first never sees the release. Written again, after it, it holds everywhere.
      for (const e of facts.expiries) {
        if (e.by === ctx.id || !(e.alsoBy ?? []).includes(ctx.id) || v.expiredHolders.some((h) => h.round === e.round)) continue;
        if (facts.claims.some((c) => c.round === e.round && c.peer === ctx.id)) pass.releases.push([id, e.round]);
      }
    }
    if (waitFor !== undefined) {
      bidding.release(id);
      return;
    }
    // pending or claimed (bids in, award under way)
    const mine = v.bids.find((b) => b.peer === ctx.id);
    if (mine && mine.at < this.startedAt) {
      // A bid of this peer's previous life: nothing is reserved for it, and others take it as
      // given up (our newer heartbeats say so). It is renewed (a fresh bid replaces it) like a
      // new bid: if every bidder of a round restarted, nobody else could ever claim it.
      bidding.release(id);
      if (runs.has(id)) return;
      bidding.poolAdd(id);
      pass.candidates.push({ view: v, spec, renew: true });
      return;
    }
    if (mine) {
      const waited = pass.now - ctx.board().seenAt(id, 'bid', v.round, ctx.id);
      if (waited < bidding.bidWindow()) return;
      if (pass.settling) return; // bids of peers still moving to this generation may be on their way
      const best = bidding.bestLiveBid(v, pass.now);
      if (best?.peer === ctx.id && !ctx.quiet() && this.caughtUp && (bidding.isReserved(id) || bidding.freeSlots() > 0)) {
        if (spec.exclusive) deps.quorum.claim(id, v, best);
        else bidding.claimAndRun(id, spec, v, best);
      } else {
        bidding.release(id);
      }
      return;
    }
    if (runs.has(id)) return;
    bidding.poolAdd(id);
    pass.candidates.push({ view: v, spec });
  }

  /** Stops the loop's timers (the peer shut down). */
  close(): void {
    const clock = this.ctx.clock;
    if (this.tickTimer !== undefined) clock.clearTimeout(this.tickTimer);
    if (this.soonTimer !== undefined) clock.clearTimeout(this.soonTimer);
    this.tickTimer = this.soonTimer = undefined;
    this.unsubscribeDoc?.();
    this.unsubscribeDoc = undefined;
  }
}
