// Rounds assigned to this peer: round 1 by the task's creator (a task batch), any other round by
// the registry's rendezvous (scheduler's pickAssignee). No bids and no award: the peer queues them
// (best first) and starts them once they are eligible (delay, backoff, dependencies) as slots and
// its rate allow, writing each claim with the turn's activity batch. Another peer's assignment is
// a lease like a claim: when its assignee is no longer seen, the round is expired and the next
// round goes to someone else.

import type { TaskSpec, TaskView } from '@agentmesh/scheduler';
import { AssignedQueue } from './assigned-queue.js';
import type { Bidding } from './bidding.js';
import type { PeerContext } from './context.js';
import type { Pass } from './pass.js';
import type { Runs } from './runs.js';
import type { Views } from './views.js';

export class Assigned {
  private readonly queue = new AssignedQueue();
  /** Tasks assigned here that are not eligible yet. */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly ctx: PeerContext,
    private readonly runs: Runs,
    private readonly bidding: Bidding,
    private readonly views: Views,
  ) {}

  /** Tasks waiting here for a slot. */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * Handles a task whose current round is an assigned round 1 not started yet; returns false for
   * any other task. Ours are queued; another peer's is expired once its assignee is gone.
   */
  consider(pass: Pass, id: string, spec: TaskSpec, v: TaskView): boolean {
    if (v.state !== 'claimed' || v.assignee === undefined || v.claim) {
      this.queue.delete(id);
      this.waiting.delete(id);
      return false;
    }
    this.bidding.release(id);
    if (v.assignee === this.ctx.id || v.coAssignees.includes(this.ctx.id)) {
      if (this.runs.has(id) || this.runs.outcomePending(id)) return true;
      if (pass.now < v.eligibleAt || v.blockedBy.length > 0) {
        // Not yet (delay, retry backoff, dependencies): looked at again on sweeps.
        this.queue.delete(id);
        this.waiting.add(id);
      } else {
        this.waiting.delete(id);
        this.queue.add(spec);
      }
    } else {
      this.queue.delete(id);
      this.waiting.delete(id);
      if (v.lapsed && pass.mayExpire(v.assignee)) pass.expiries.push([id, v.round]);
    }
    return true;
  }

  /** Is this task assigned here and waiting to become eligible (a sweep must look at it)? */
  isWaiting(id: string): boolean {
    return this.waiting.has(id);
  }

  forget(id: string): void {
    this.queue.delete(id);
    this.waiting.delete(id);
  }

  /** Starts queued tasks while a slot and a token are free. */
  startQueued(pass: Pass): void {
    const { ctx } = this;
    if (this.queue.size === 0 || ctx.quiet() || !pass.caughtUp || pass.settling) return;
    const board = ctx.board();
    while (this.queue.size > 0 && this.bidding.freeSlots() > 0) {
      if (!this.bidding.takeToken(pass.now)) break;
      const id = this.queue.pop()!;
      const facts = board.getFacts(id);
      // Changed since it was queued (a release, a cancel): looked at again in the next pass.
      const v = facts ? this.views.derive(id, facts, pass.now, pass.memo) : undefined;
      if (!facts || !v || v.state !== 'claimed' || (v.assignee !== ctx.id && !v.coAssignees.includes(ctx.id)) || v.claim || this.runs.has(id) || pass.now < v.eligibleAt || v.blockedBy.length > 0) {
        this.bidding.returnToken();
        continue;
      }
      ctx.counters.claims++;
      // Only a round 1 its batch gave to this peer alone runs at once; a round assigned from the
      // registry or shared with co-assignees waits for the claim gate (claim-gate.ts).
      const gated = v.round !== 1 || facts.assignee === undefined || v.coAssignees.length > 0;
      this.runs.start(id, facts.spec, v.round, { score: 0 }, gated);
    }
  }

  /** Drops the queue (the peer stops). */
  clear(): void {
    this.queue.clear();
    this.waiting.clear();
  }
}
