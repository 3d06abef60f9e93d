// One pass of the main loop: the tasks it looks at, the dependency states it derived, and what it
// decided (bids to consider, leases to expire, votes to cast), written together at its end as one
// transaction. The parts that decide (bidding, quorum) add to it instead of taking out-params.

import type { TaskSpec, TaskView, Vote } from '@agentmesh/scheduler';
import type { EligiblePeer, Liveness } from './liveness.js';
import type { DeriveMemo } from './views.js';

export interface Candidate {
  view: TaskView;
  spec: TaskSpec;
  /** This peer's bid in the round is from before its restart (others take it as given up): renew it. */
  renew?: boolean;
}

export class Pass {
  readonly memo: DeriveMemo = new Map();
  /** Pending tasks this peer may bid on, in the order they were found. */
  readonly candidates: Candidate[] = [];
  /** Leases (or rounds) to end: task, round. */
  readonly expiries: [string, number][] = [];
  /** Rounds this peer held, expired by another peer, that it gives back (it does not run them). */
  readonly releases: [string, number][] = [];
  /** Votes for exclusive claims: task, vote. */
  readonly votes: [string, Vote][] = [];
  private alive: EligiblePeer[] | undefined;
  private hears: boolean | undefined;

  constructor(
    readonly now: number,
    /** Right after a generation change: no bids or claims (see Generations.settling). */
    readonly settling: boolean,
    /** This peer has caught up with the mesh since it started (it may bid, claim and vote). */
    readonly caughtUp: boolean,
    /** Tasks evaluated in this pass (changed ones, bids whose window passed, or every live one on a sweep). */
    readonly ids: ReadonlySet<string>,
    private readonly liveness: Liveness,
  ) {}

  /** The peers alive now, computed once per pass when first needed. */
  alivePeers(): EligiblePeer[] {
    return (this.alive ??= this.liveness.aliveEligiblePeers(this.now));
  }

  /** This replica hears most of the peers it heard lately (Liveness.hearsMost), once per pass. */
  hearsMost(): boolean {
    return (this.hears ??= this.liveness.hearsMost(this.now));
  }
}
