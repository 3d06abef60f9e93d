// Round 1 of tasks assigned to this peer by their creator (a task batch): no bids and no award,
// the peer queues them (best first) and starts them as slots and its rate allow, writing each
// claim with the turn's activity batch. Another peer's assignment is a lease like a claim: when
// its assignee is no longer seen, round 1 is expired and the task is bid on.

import type { TaskSpec, TaskView } from '@agentmesh/scheduler';
import { AssignedQueue } from './assigned-queue.js';
import type { Bidding } from './bidding.js';
import type { PeerContext } from './context.js';
import type { Pass } from './pass.js';
import type { Runs } from './runs.js';
import type { Views } from './views.js';

export class Assigned {
  private readonly queue = new AssignedQueue();

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
    if (v.state !== 'claimed' || v.round !== 1 || v.assignee === undefined || v.claim) {
      this.queue.delete(id);
      return false;
    }
    this.bidding.release(id);
    if (v.assignee === this.ctx.id) {
      if (!this.runs.has(id) && !this.runs.outcomePending(id)) this.queue.add(spec);
    } else {
      this.queue.delete(id);
      if (v.lapsed) pass.expiries.push([id, 1]);
    }
    return true;
  }

  forget(id: string): void {
    this.queue.delete(id);
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
      if (!facts || !v || v.state !== 'claimed' || v.assignee !== ctx.id || v.claim || this.runs.has(id)) {
        this.bidding.returnToken();
        continue;
      }
      ctx.counters.claims++;
      this.runs.start(id, facts.spec, 1, { score: 0 });
    }
  }

  /** Drops the queue (the peer stops). */
  clear(): void {
    this.queue.clear();
  }
}
