// One pass of the main loop: the tasks it looks at, the dependency states it derived, and what it
// decided (bids to consider, leases to expire, votes to cast), written together at its end as one
// transaction. The parts that decide (bidding, quorum) add to it instead of taking out-params.

import { silenceOverdue, type TaskSpec, type TaskView, type Vote } from '@agentmesh/scheduler';
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
  /** Liveness.lag, once per pass (null: not computed yet). */
  private lag: number | undefined | null = null;
  /** Liveness.linkedPeers, once per pass when first needed. */
  private linked: ReadonlySet<string> | undefined;
  /** Holders this pass found overdue for their silence: how long, and whether still linked here (logged with the expiries). */
  readonly silentHolders = new Map<string, { silenceMs: number; linked: boolean; lagMs: number }>();

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

  /**
   * May this replica write the expiry of `holder`'s lapsed round? Only when it hears most of the
   * peers it heard lately (Liveness.lag), and, when the lapse is the holder's silence (not a
   * timeout), only once that silence is past the lease plus this replica's typical silence of
   * every peer (silenceOverdue): the slowest observer of a slow mesh does not decide for all.
   * A holder still connected here is overdue only after a much longer silence (a stalled loop, not
   * a gone peer: CONNECTED_SILENCE_LEASES).
   */
  mayExpire(holder: string): boolean {
    if (this.lag === null) this.lag = this.liveness.lag(this.now);
    if (this.lag === undefined) return false;
    const seen = this.liveness.lastSeen(holder);
    if (seen === undefined) return true;
    const silence = this.now - seen;
    const lease = this.liveness.leasePolicy();
    if (silence <= lease.leaseMs) return true;
    const linked = (this.linked ??= this.liveness.linkedPeers()).has(holder);
    if (!silenceOverdue(silence, this.lag, lease, linked)) return false;
    this.silentHolders.set(holder, { silenceMs: silence, linked, lagMs: this.lag });
    return true;
  }
}
