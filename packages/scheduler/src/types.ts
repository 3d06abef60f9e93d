// The plain data shapes every package agrees on: tasks, bids, claims, run outcomes, peers.
// These are what the CRDT document holds (see docs/doc-schema.md), as plain values with no Yjs in them,
// so the scheduling rules stay pure functions of data.

/** Names of the bidding strategies (the brief's four plus capacity-weighted, the default). */
export type StrategyName = 'random' | 'least-load' | 'max-capacity' | 'capacity-weighted' | 'multi-objective';

export const STRATEGY_NAMES: readonly StrategyName[] = [
  'random',
  'least-load',
  'max-capacity',
  'capacity-weighted',
  'multi-objective',
];

/** Weights of the multi-objective strategy; every weight is >= 0. */
export interface ObjectiveWeights {
  /** Weight of the estimated finish time in seconds, (load + 1) / capacity. */
  time: number;
  /** Weight of the utilisation, load / concurrency. */
  load: number;
  /** Weight of the capability mismatch, 1 - (preferred capabilities held / preferred asked). */
  match: number;
}

/** A task as its creator wrote it. Written once, never changed. */
export interface TaskSpec {
  id: string;
  /** Agent type that runs it, e.g. "echo" or "traffic.forecast". */
  type: string;
  payload: unknown;
  /** Higher runs first. */
  priority: number;
  /** Capabilities a peer must hold to bid (the task type is always required too). */
  requires: string[];
  /** Capabilities that make a peer a better match (multi-objective strategy). */
  prefers: string[];
  /** Task ids that must be done before this one may run. */
  dependsOn: string[];
  /** Failed attempts allowed before the task is dead. */
  maxAttempts: number;
  /** A run longer than this is aborted and counts as a failed attempt. 0 = no timeout. */
  timeoutMs: number;
  /** Creator's clock, ms since epoch. */
  createdAt: number;
  /** Peer id of the creator. */
  createdBy: string;
  /** Earliest time (creator's clock) the task may be bid on; 0 = at once. */
  notBefore: number;
  /** Bidding strategy for this task. */
  strategy: StrategyName;
  /** Idempotency key, if the submitter gave one. */
  key?: string;
  /** Runs only with a quorum claim (votes of a majority of known peers); never on a minority side. */
  exclusive?: boolean;
}

/** A peer's offer to run round `round` of a task. Lower `score` wins. */
export interface Bid {
  peer: string;
  round: number;
  score: number;
  /** The bidder's load (running + reserved tasks) when it bid. */
  load: number;
  /** The bidder's capacity (tasks/s) when it bid. */
  capacity: number;
  /** Bidder's clock. */
  at: number;
}

/** The winner of a round says it runs the task. Carries its bid's score so claims order like bids. */
export interface Claim {
  peer: string;
  round: number;
  score: number;
  at: number;
  /** Exclusive tasks: votes this claim needs (a majority of the peers the claimant knew). */
  quorum?: number;
}

/** A finished run. */
export interface RunDone {
  peer: string;
  round: number;
  result: unknown;
  at: number;
  /** Run time in ms. */
  ms: number;
}

/** A failed run (error thrown, timeout, or aborted by a cancel). */
export interface RunFailed {
  peer: string;
  round: number;
  error: string;
  at: number;
  /** The agent said retrying cannot help (bad input): the task is dead at once. */
  permanent?: boolean;
}

/** Some peer saw the lease of round `round` lapse (its holder gone or past its timeout). */
export interface LeaseExpired {
  round: number;
  by: string;
  at: number;
  /** Other peers whose expiry of the same round this replica also holds (the holder's own release among them, maybe). */
  alsoBy?: string[];
}

/** A peer's vote, in one round of an exclusive task, for the claimant it saw win. One per voter and round. */
export interface Vote {
  round: number;
  voter: string;
  for: string;
  at: number;
}

/** A dead task revived by hand: failures of rounds before `round` no longer count. */
export interface Retry {
  round: number;
  by: string;
  at: number;
}

export interface Cancel {
  by: string;
  at: number;
  reason: string;
}

/** Everything the document holds about one task. */
export interface TaskFacts {
  spec: TaskSpec;
  bids: Bid[];
  claims: Claim[];
  dones: RunDone[];
  fails: RunFailed[];
  expiries: LeaseExpired[];
  cancel?: Cancel | undefined;
  /** Revivals (`agentmesh retry`); optional so older callers need not pass it. */
  retries?: Retry[];
  /** Quorum votes of exclusive tasks. */
  votes?: Vote[];
  /**
   * The peer the task's creator assigned round 1 to (a task batch assigns its tasks by
   * capacity-weighted rendezvous). Round 1 then needs no bids: only the assignee's claim counts in
   * it, and the round closes (is released) only by an expiry. Absent: round 1 is bid on.
   */
  assignee?: string;
  /**
   * Assignees of round 1 named by other batches holding the same task id (a resubmit with the same
   * explicit id or idempotency key): their claims and results count in round 1 too, so a run one
   * of them already made is not made again.
   */
  coAssignees?: string[];
}

/** A peer's registry entry (static part). */
export interface PeerInfo {
  id: string;
  name: string;
  /** Agent types and extra capability tags this peer offers. */
  capabilities: string[];
  /** Tasks per second it takes on (the brief's P_i). */
  capacity: number;
  /** Tasks it runs at once. */
  concurrency: number;
  startedAt: number;
  /**
   * When this peer first registered (its clock), kept across restarts: rounds are assigned from the
   * registry only to peers that joined well before the round opened (REGISTRY_SETTLE_MS), so every
   * replica holds their entries. Entries written before this field existed count from startedAt.
   */
  joinedAt?: number;
}

/** What a bidder knows of itself when it computes a bid. */
export interface BidderState {
  id: string;
  capabilities: string[];
  capacity: number;
  concurrency: number;
  /** Running plus reserved (bid, not yet settled) tasks. */
  load: number;
}

export type TaskState = 'pending' | 'claimed' | 'running' | 'done' | 'dead' | 'cancelled';

export const TASK_STATES: readonly TaskState[] = ['pending', 'claimed', 'running', 'done', 'dead', 'cancelled'];
