// The quorum protocol of exclusive tasks (at most once): a claim runs only once a majority of the
// known peers voted for it, every peer votes for the best live claim of a round, a running quorum
// claim is never expired by others, a round no claim can win is closed, and a holder that loses
// sight of a majority aborts its run (fencing itself) before the others could act.

import { quorumOf, type Bid, type TaskSpec, type TaskView } from '@agentmesh/scheduler';
import type { Bidding } from './bidding.js';
import type { PeerContext } from './context.js';
import type { Liveness } from './liveness.js';
import type { Pass } from './pass.js';
import type { Runs } from './runs.js';

export class Quorum {
  /** Exclusive tasks this peer claimed and that wait for a quorum of votes: task -> round. */
  private readonly awaiting = new Map<string, number>();

  constructor(
    private readonly ctx: PeerContext,
    private readonly liveness: Liveness,
    private readonly runs: Runs,
    private readonly bidding: Bidding,
  ) {}

  /** An exclusive run whose holder no longer sees a majority is aborted, before the majority expires its lease. */
  fence(now: number): void {
    let majority: boolean | undefined;
    for (const id of this.runs.ids()) {
      if (!this.ctx.board().getSpec(id)?.exclusive) continue;
      majority ??= this.liveness.seesMajority(now, this.ctx.timing.lease.leaseMs / 2);
      if (!majority) this.runs.abort(id, 'lost sight of a majority of peers (exclusive task)');
    }
  }

  /** A quorum claim: record the votes it needs, vote for it, and wait (the slot stays reserved). */
  claim(id: string, v: TaskView, bid: Bid): void {
    const now = this.ctx.clock.now();
    const board = this.ctx.board();
    const quorum = quorumOf(Math.max(1, board.peers().length));
    const wrote = board.transact(() => {
      if (!board.putClaim(id, { peer: this.ctx.id, round: v.round, score: bid.score, at: now, quorum })) return false;
      board.putVote(id, { round: v.round, voter: this.ctx.id, for: this.ctx.id, at: now });
      return true;
    });
    if (wrote) {
      this.ctx.counters.claims++;
      this.awaiting.set(id, v.round);
    } else this.bidding.release(id);
  }

  private roundCannotReachQuorum(v: TaskView): boolean {
    const known = this.ctx.board().peers().map((p) => p.id);
    const voted = new Set(v.votes.map((x) => x.voter));
    const unvoted = known.filter((p) => !voted.has(p)).length;
    const fallback = quorumOf(Math.max(1, known.length));
    return v.awaitingQuorum.every((c) => new Set(v.votes.filter((x) => x.for === c.peer).map((x) => x.voter)).size + unvoted < (c.quorum ?? fallback));
  }

  /**
   * The quorum protocol for one exclusive task in a pass. Returns true when it handled the task.
   * - A claim runs only once a majority of known peers voted for it (one vote per peer and round,
   *   so at most one claim per round can get there).
   * - Every peer votes for the best claim of the round whose holder it sees alive.
   * - A running quorum claim is never expired by others (at most once): the task waits for its
   *   holder; a holder that lost its run releases it and the task ends dead ('interrupted').
   * - A round none of whose claims can ever reach its quorum (votes split) is closed by a peer
   *   that sees a majority, and the next round starts.
   * - A holder that stops seeing a majority aborts its run (see fence).
   */
  handle(pass: Pass, id: string, spec: TaskSpec, v: TaskView): boolean {
    const { ctx, runs } = this;
    const now = pass.now;
    const majority = this.liveness.seesMajority(now);
    if (v.state === 'running' && v.claim) {
      if (v.claim.peer === ctx.id && !runs.has(id) && !runs.outcomePending(id)) {
        if (this.awaiting.get(id) === v.round) {
          // Quorum reached. Start only while a majority is heard from directly; until then wait.
          if (this.liveness.seesMajority(now, ctx.timing.lease.leaseMs / 2) && !ctx.quiet()) {
            this.awaiting.delete(id);
            this.bidding.spend(id); // its token is spent on the run
            runs.start(id, spec, v.round);
          }
          return true;
        }
        // A quorum claim of ours that we no longer run (restart, or fenced off): release it. The
        // task then ends dead ('interrupted'), since it may have done part of its work: at most once.
        pass.expiries.push([id, v.round]);
      }
      // Never expire another peer's running quorum claim: it may be running or done behind a
      // partition, and running it again would break at-most-once. The task waits for its holder.
      if (!runs.has(id)) this.bidding.release(id);
      return true;
    }
    if (v.state === 'claimed' && v.awaitingQuorum.length > 0) {
      if (pass.caughtUp && !ctx.quiet() && !v.votes.some((x) => x.voter === ctx.id)) {
        const best = v.awaitingQuorum.find((c) => c.peer === ctx.id || this.liveness.isAlive(c.peer, now));
        if (best) pass.votes.push([id, { round: v.round, voter: ctx.id, for: best.peer, at: now }]);
      }
      // Close the round only when no claim of it can ever reach its quorum, even if every known
      // peer that has not voted yet voted for it: each peer votes once per round, so that is
      // final. A timer would be unsafe: a side of a partition that never saw the close could still
      // complete a quorum for this round while the next round runs elsewhere.
      if (majority && this.roundCannotReachQuorum(v)) pass.expiries.push([id, v.round]);
      if (this.awaiting.get(id) !== v.round) this.bidding.release(id);
      return true;
    }
    if (this.awaiting.has(id) && this.awaiting.get(id) !== v.round) {
      this.awaiting.delete(id);
      this.bidding.release(id);
    }
    return false;
  }
}
