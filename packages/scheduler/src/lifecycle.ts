// The task lifecycle as a pure function of the facts in the document.
// A task's state is never stored: every replica derives it from the same write-once facts
// (bids, claims, finished and failed runs, lease expiries, a cancel), so two replicas that hold
// the same facts name the same state, the same canonical claim and the same canonical result.
// Times that come from other peers' clocks are never compared with ours: the caller passes
// observation times (when this replica first saw a fact), which makes the rules immune to skew.

import { compareBids, rankBids, selectWinner } from './award.js';
import { retryDelay, hasAttemptsLeft, type BackoffPolicy } from './backoff.js';
import { leaseLapsed, type LeasePolicy } from './lease.js';
import { pickAssignee, type RoundCandidate } from './round-assignment.js';
import type { Bid, Claim, RunDone, RunFailed, TaskFacts, TaskState, Vote } from './types.js';

export { pickAssignee, REGISTRY_SETTLE_MS, type RoundCandidate } from './round-assignment.js';

/** Lease expiries (holder died or hung) a task may suffer before it is dead, on top of failures. */
export const MAX_LEASE_EXPIRIES = 10;

export type FactKind = 'bid' | 'claim' | 'done' | 'fail' | 'expire';

export interface DeriveContext {
  /** Observer's clock. */
  now: number;
  /** When this replica first saw the task itself (its own clock). */
  taskSeenAt: number;
  /** When this replica first saw the fact (its own clock); for 'expire' the peer is ''. */
  seenAt(kind: FactKind, round: number, peer: string): number;
  /** When this replica last saw a heartbeat of `peer` change (its own clock), if ever. */
  lastSeen(peer: string): number | undefined;
  /** State of another task (for dependencies); undefined when this replica does not hold it. */
  depState(id: string): TaskState | undefined;
  lease: LeasePolicy;
  backoff: BackoffPolicy;
  /** Mesh-wide seed for the retry jitter. */
  seed: number;
  /** Peers in the registry: the quorum of an exclusive claim that does not record its own. */
  knownPeers?: number;
  /**
   * The peers of the registry (the document's), who may be assigned a round no batch assigned:
   * the round after a failed run, or round 1 of a single task entry. Without them such rounds are bid on.
   */
  candidates?: readonly RoundCandidate[];
}

/** Votes an exclusive claim needs: a strict majority of the known peers. */
export function quorumOf(knownPeers: number): number {
  return Math.floor(Math.max(1, knownPeers) / 2) + 1;
}

export interface TaskView {
  id: string;
  state: TaskState;
  /** Current round, 1-based. A round ends with a failure or a lease expiry of its canonical claim. */
  round: number;
  /** Canonical claim of the current round, if any. */
  claim: Claim | undefined;
  /** Bids of the current round, best first, one per peer. */
  bids: Bid[];
  /** Rounds in which a run was started (a canonical claim exists). */
  attempts: number;
  /** Rounds that ended in a failed run. */
  failures: number;
  /** Rounds that ended because the lease lapsed. */
  expiries: number;
  /** The canonical successful run, if done. */
  result: RunDone | undefined;
  /** Successful runs other than the canonical one (duplicate runs, e.g. both sides of a partition). */
  duplicates: RunDone[];
  /** Errors of the failed rounds, in round order. */
  errors: RunFailed[];
  /** Dependencies that are not done yet. */
  blockedBy: string[];
  /** Earliest time (observer clock) a bid may be placed: delay and retry backoff. */
  eligibleAt: number;
  /** The current claim's lease has lapsed: some peer should write an expiry for `round`. */
  lapsed: boolean;
  /** Why a dead task is dead. */
  deadReason: 'attempts' | 'expiries' | 'dependency' | 'interrupted' | 'permanent' | undefined;
  /** Observation time at which the current round opened (task seen, or previous round closed). */
  roundOpenedAt: number;
  /** Exclusive tasks: claims of the current round still waiting for a quorum, best first. */
  awaitingQuorum: Claim[];
  /** Exclusive tasks: votes of the current round. */
  votes: Vote[];
  /** Round 1 was assigned to this peer by the task's creator (see TaskFacts.assignee). */
  assignee: string | undefined;
  /** Other peers round 1 was assigned to (see TaskFacts.coAssignees); may also start it. */
  coAssignees: string[];
  /**
   * Earlier rounds closed because their lease was declared lapsed by a peer other than their
   * holder: each holder, the time it claimed (its clock) and who declared it. A replica that still
   * sees such a holder alive (and not restarted since) leaves the current round alone: the holder
   * may still be running the task, and the expiry came from a peer that could not see it.
   */
  expiredHolders: { round: number; peer: string; claimAt: number; by: string }[];
}

interface RoundInfo {
  claims: Claim[];
  canonical: Claim | undefined;
  failOfCanonical: RunFailed | undefined;
  expired: boolean;
}

function groupByRound<T extends { round: number }>(items: readonly T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const it of items) {
    let list = out.get(it.round);
    if (!list) out.set(it.round, (list = []));
    list.push(it);
  }
  return out;
}

/** Claims that have a matching claim by the same peer in the same round. */
function hasClaim(claimsByRound: Map<number, Claim[]>, round: number, peer: string): boolean {
  return (claimsByRound.get(round) ?? []).some((c) => c.peer === peer);
}

/**
 * Picks the canonical successful run among all successes: the earliest round first, then the
 * claim order within a round. A success without a claim of the same peer and round is ignored.
 */
export function canonicalResult(facts: TaskFacts, knownPeers = 1, mayClaim?: (round: number, peer: string) => boolean): { result: RunDone | undefined; duplicates: RunDone[] } {
  const taskId = facts.spec.id;
  let claims = facts.claims;
  let voided: RunDone[] = [];
  if (facts.spec.exclusive) {
    const q = quorumOf(knownPeers);
    const votes = facts.votes ?? [];
    claims = claims.filter((c) => new Set(votes.filter((v) => v.round === c.round && v.for === c.peer).map((v) => v.voter)).size >= Math.max(c.quorum ?? q, 1));
  } else if (mayClaim !== undefined || facts.assignee !== undefined) {
    // An assigned round is its assignee's alone: a claim of anyone else in it never counts. A run
    // made under such a claim (another batch named the task, a view of a changing registry) is
    // still a duplicate.
    const may = assigneesOf(facts);
    const ok = mayClaim ?? ((round: number, peer: string) => round !== 1 || may.has(peer));
    const all = claims;
    claims = claims.filter((c) => ok(c.round, c.peer));
    voided = facts.dones
      .filter((d) => !ok(d.round, d.peer) && all.some((c) => c.round === d.round && c.peer === d.peer))
      .sort((x, y) => (x.peer < y.peer ? -1 : x.peer > y.peer ? 1 : 0));
  }
  const claimsByRound = groupByRound(claims);
  const seen = new Set<string>();
  const valid: RunDone[] = [];
  for (const d of facts.dones) {
    const k = `${d.round}\u0000${d.peer}`;
    if (seen.has(k) || !hasClaim(claimsByRound, d.round, d.peer)) continue;
    seen.add(k);
    valid.push(d);
  }
  if (valid.length === 0) return { result: undefined, duplicates: voided };
  const scoreOf = (d: RunDone): Claim => {
    const claims = (claimsByRound.get(d.round) ?? []).filter((c) => c.peer === d.peer);
    return selectWinner(claims, taskId, d.round) ?? { peer: d.peer, round: d.round, score: Infinity, at: 0 };
  };
  valid.sort((a, b) => (a.round !== b.round ? a.round - b.round : compareBids(scoreOf(a), scoreOf(b), taskId)));
  const [result, ...duplicates] = valid;
  return { result, duplicates: voided.length > 0 ? [...duplicates, ...voided] : duplicates };
}

/**
 * The common case in one pass, with no grouping: a task still in round 1 with nothing but claims
 * and results in it (no bids, failures, expiries, votes, retries, cancel, dependencies), either
 * assigned (task batches) or not claimed at all. Gives exactly what the general rules give
 * (property-tested against them); undefined for anything else.
 */
function deriveSimple(facts: TaskFacts, ctx: DeriveContext): TaskView | undefined {
  const { spec } = facts;
  if (spec.exclusive || spec.dependsOn.length > 0 || facts.bids.length > 0 || facts.fails.length > 0 || facts.expiries.length > 0 || facts.cancel) return undefined;
  if ((facts.retries?.length ?? 0) > 0 || (facts.votes?.length ?? 0) > 0) return undefined;
  if ((facts.coAssignees?.length ?? 0) > 0) return undefined;
  if (facts.assignee === undefined && (facts.claims.length > 0 || facts.dones.length > 0)) return undefined;
  const assignee = facts.assignee ?? (ctx.candidates ? pickAssignee(spec, 1, ctx.candidates, new Set(), spec.createdAt) : undefined);
  let claim: Claim | undefined;
  for (const c of facts.claims) {
    if (c.round !== 1) return undefined;
    if (c.peer === assignee) claim = c;
  }
  let result: RunDone | undefined;
  let voided: RunDone[] | undefined;
  for (const d of facts.dones) {
    if (d.round !== 1) return undefined;
    if (d.peer === assignee) {
      if (claim && !result) result = d;
    } else if (facts.claims.some((c) => c.peer === d.peer)) (voided ??= []).push(d);
  }
  if (voided && voided.length > 1) voided.sort((x, y) => (x.peer < y.peer ? -1 : x.peer > y.peer ? 1 : 0));
  const roundOpenedAt = ctx.taskSeenAt;
  const eligibleAt = spec.notBefore > 0 ? roundOpenedAt + Math.max(0, spec.notBefore - spec.createdAt) : roundOpenedAt;
  const state: TaskState = result ? 'done' : claim ? 'running' : assignee !== undefined ? 'claimed' : 'pending';
  let lapsed = false;
  if (state === 'running' && claim) {
    lapsed = leaseLapsed({ holderLastSeen: ctx.lastSeen(claim.peer), claimSeenAt: ctx.seenAt('claim', 1, claim.peer), timeoutMs: spec.timeoutMs }, ctx.now, ctx.lease);
  } else if (state === 'claimed' && assignee !== undefined) {
    lapsed = leaseLapsed({ holderLastSeen: ctx.lastSeen(assignee), claimSeenAt: ctx.taskSeenAt, timeoutMs: 0 }, ctx.now, ctx.lease);
  }
  return {
    id: spec.id,
    state,
    round: 1,
    claim,
    bids: [],
    attempts: claim ? 1 : 0,
    failures: 0,
    expiries: 0,
    result,
    duplicates: voided ?? [],
    errors: [],
    blockedBy: [],
    eligibleAt,
    lapsed,
    deadReason: undefined,
    roundOpenedAt,
    awaitingQuorum: [],
    votes: [],
    assignee,
    coAssignees: [],
    expiredHolders: [],
  };
}

/** Who may claim an assigned round 1: the assignee and the co-assignees. */
function assigneesOf(facts: TaskFacts): Set<string> {
  const out = new Set<string>(facts.coAssignees ?? []);
  if (facts.assignee !== undefined) out.add(facts.assignee);
  return out;
}

/** Derives everything about one task from its facts. Pure. */
export function deriveTask(facts: TaskFacts, ctx: DeriveContext): TaskView {
  return deriveSimple(facts, ctx) ?? deriveGeneral(facts, ctx);
}

/**
 * Whether the round after this one goes to the registry: its holder's run failed and nobody expired
 * the round. With both (the holder, cut off, failed its run while a peer that could not see it
 * declared its lease lapsed), the next round is bid on, as the side that saw only the expiry already
 * did: letting the failure decide would make it an assigned round as soon as the failure arrives,
 * and void a run the bidders' winner had already finished (its assignee would run the task again
 * while holding that result). The failure still counts as a failed attempt either way. Likewise when
 * more than one peer claimed the round (`claimers`): two sides of a partition each ran and failed
 * it, and which claim is canonical (and so whom the registry's pick leaves out, and from when the
 * round counts as open) changes when they merge; the pick could then name a peer other than the one
 * a side had already run the next round with, voiding its finished run (simulator seed 5003, 15
 * peers: a third peer ran the task again). A bid round voids no claim.
 */
function nextRoundAssigned(info: { failOfCanonical: RunFailed | undefined; expired: boolean }, claimers: number): boolean {
  return info.failOfCanonical !== undefined && !info.expired && claimers <= 1;
}

/** The general rules (every round, award, failure, expiry, vote, retry, cancel and dependency). */
export function deriveGeneral(facts: TaskFacts, ctx: DeriveContext): TaskView {
  const { spec } = facts;
  const taskId = spec.id;
  const claimsByRound = groupByRound(facts.claims);
  const failsByRound = groupByRound(facts.fails);
  const expiredRounds = new Set(facts.expiries.map((e) => e.round));

  const exclusive = spec.exclusive === true;
  const quorum = quorumOf(ctx.knownPeers ?? 1);
  const votesByRound = groupByRound(facts.votes ?? []);
  /** For an exclusive task only a claim backed by a quorum of votes counts (at most one can be). */
  const quorate = (claims: Claim[], r: number): Claim[] => {
    if (!exclusive) return claims;
    const votes = votesByRound.get(r) ?? [];
    return claims.filter((c) => new Set(votes.filter((v) => v.for === c.peer).map((v) => v.voter)).size >= Math.max(c.quorum ?? quorum, 1));
  };
  // Who may claim each round (never for an exclusive task: quorum claims): round 1 is its batch's
  // assignee (and co-assignees); a round after a failed run goes to the registry's rendezvous
  // winner, leaving out whoever held an earlier round. A round after a lapsed lease is bid on: the
  // registry cannot tell who is reachable, the bids of live peers can (no expiry cascade across a
  // partition). A round nobody can be assigned is bid on too.
  const claimersOf = (r: number): number => new Set((claimsByRound.get(r) ?? []).map((c) => c.peer)).size;
  const assignees = new Map<number, string | undefined>();
  const assigneeFor = (r: number): string | undefined => {
    if (exclusive) return undefined;
    if (assignees.has(r)) return assignees.get(r);
    let a: string | undefined;
    if (r === 1 && facts.assignee !== undefined) a = facts.assignee;
    else if (ctx.candidates && (r === 1 || nextRoundAssigned(roundInfo(r - 1), claimersOf(r - 1)))) {
      const excluded = new Set<string>();
      for (let k = 1; k < r; k++) {
        const holder = roundInfo(k).canonical?.peer ?? assigneeFor(k);
        if (holder !== undefined) excluded.add(holder);
      }
      a = pickAssignee(spec, r, ctx.candidates, excluded, r === 1 ? spec.createdAt : roundInfo(r - 1).failOfCanonical!.at);
    }
    assignees.set(r, a);
    return a;
  };
  const mayClaim = (r: number, peer: string): boolean => {
    const a = assigneeFor(r);
    if (a === undefined || a === peer) return true;
    return r === 1 && facts.assignee !== undefined && (facts.coAssignees ?? []).includes(peer);
  };
  const rounds = new Map<number, RoundInfo>();
  const roundInfo = (r: number): RoundInfo => {
    let info = rounds.get(r);
    if (!info) {
      let claims = quorate(claimsByRound.get(r) ?? [], r);
      if (!exclusive) claims = claims.filter((c) => mayClaim(r, c.peer));
      const canonical = selectWinner(claims, taskId, r);
      const failOfCanonical = canonical
        ? (failsByRound.get(r) ?? []).filter((f) => f.peer === canonical.peer).sort((a, b) => (a.error < b.error ? -1 : a.error > b.error ? 1 : 0))[0]
        : undefined;
      const pendingExclusive = exclusive && (claimsByRound.get(r) ?? []).length > 0;
      const assigned = assigneeFor(r) !== undefined;
      info = { claims, canonical, failOfCanonical, expired: expiredRounds.has(r) && (canonical !== undefined || pendingExclusive || assigned) };
      rounds.set(r, info);
    }
    return info;
  };

  // Walk the closed rounds: a round is closed when its canonical claim failed or its lease expired.
  let round = 1;
  let attempts = 0;
  let failures = 0;
  let expiries = 0;
  const errors: RunFailed[] = [];
  const closures: { round: number; kind: 'fail' | 'expire' | 'interrupted'; permanent?: boolean }[] = [];
  let lastClosedSeenAt: number | undefined;
  const expiredHolders: TaskView['expiredHolders'] = [];
  const maxRound = Math.max(0, ...facts.claims.map((c) => c.round), ...facts.expiries.map((e) => e.round), ...facts.fails.map((f) => f.round)) + 1;
  for (;;) {
    const info = roundInfo(round);
    if (round > maxRound || (!info.canonical && !info.expired)) break;
    if (info.canonical) attempts++;
    if (info.failOfCanonical) {
      failures++;
      errors.push(info.failOfCanonical);
      closures.push({ round, kind: 'fail', permanent: info.failOfCanonical.permanent === true });
      lastClosedSeenAt = ctx.seenAt('fail', round, info.failOfCanonical.peer);
    } else if (info.expired) {
      expiries++;
      // An exclusive run that started (quorum) and was cut off is never re-run by itself: at most once.
      closures.push({ round, kind: exclusive && info.canonical ? 'interrupted' : 'expire' });
      lastClosedSeenAt = ctx.seenAt('expire', round, '');
      const expiry = facts.expiries.find((e) => e.round === round);
      if (info.canonical && !exclusive && expiry && expiry.by !== info.canonical.peer && !(expiry.alsoBy ?? []).includes(info.canonical.peer)) {
        expiredHolders.push({ round, peer: info.canonical.peer, claimAt: info.canonical.at, by: expiry.by });
      }
    } else {
      break;
    }
    round++;
  }

  // A revival restarts the failure count from the round it opened.
  const retryFrom = Math.max(0, ...(facts.retries ?? []).map((r) => r.round));
  const failuresCounted = closures.filter((c) => c.kind === 'fail' && c.round >= retryFrom).length;
  const expiriesCounted = closures.filter((c) => c.kind === 'expire' && c.round >= retryFrom).length;
  const interrupted = closures.some((c) => c.kind === 'interrupted' && c.round >= retryFrom);
  const permanent = closures.some((c) => c.permanent === true && c.round >= retryFrom);

  const { result, duplicates } = canonicalResult(facts, ctx.knownPeers, exclusive ? undefined : mayClaim);
  const assignee = assigneeFor(round);
  const current = roundInfo(round);
  const claim = current.canonical;
  const bids = rankBids(facts.bids, taskId, round);

  const blockedBy: string[] = [];
  let depDead = false;
  for (const dep of spec.dependsOn) {
    const st = ctx.depState(dep);
    if (st === 'done') continue;
    if (st === 'dead' || st === 'cancelled') depDead = true;
    blockedBy.push(dep);
  }

  const roundOpenedAt = lastClosedSeenAt ?? ctx.taskSeenAt;
  let eligibleAt = spec.notBefore > 0 ? roundOpenedAt + Math.max(0, spec.notBefore - spec.createdAt) : roundOpenedAt;
  if (failuresCounted > 0 && lastClosedSeenAt !== undefined) {
    eligibleAt = Math.max(eligibleAt, lastClosedSeenAt + retryDelay(failuresCounted, ctx.backoff, ctx.seed, taskId));
  }

  let state: TaskState;
  let deadReason: TaskView['deadReason'];
  if (result) state = 'done';
  else if (facts.cancel) state = 'cancelled';
  else if (permanent) {
    state = 'dead';
    deadReason = 'permanent';
  } else if (!hasAttemptsLeft(failuresCounted, spec.maxAttempts)) {
    state = 'dead';
    deadReason = 'attempts';
  } else if (interrupted) {
    state = 'dead';
    deadReason = 'interrupted';
  } else if (expiriesCounted >= MAX_LEASE_EXPIRIES) {
    state = 'dead';
    deadReason = 'expiries';
  } else if (depDead) {
    state = 'dead';
    deadReason = 'dependency';
  } else if (claim) state = 'running';
  else if (assignee !== undefined) state = 'claimed';
  else if (bids.length > 0 || (claimsByRound.get(round) ?? []).length > 0) state = 'claimed';
  else state = 'pending';

  let lapsed = false;
  if (state === 'running' && claim) {
    lapsed = leaseLapsed(
      { holderLastSeen: ctx.lastSeen(claim.peer), claimSeenAt: ctx.seenAt('claim', round, claim.peer), timeoutMs: spec.timeoutMs },
      ctx.now,
      ctx.lease,
    );
  } else if (state === 'claimed' && assignee !== undefined && !claim) {
    // Assigned, not started: the assignment is a lease of its assignee (no timeout before it starts).
    lapsed = leaseLapsed({ holderLastSeen: ctx.lastSeen(assignee), claimSeenAt: roundOpenedAt, timeoutMs: 0 }, ctx.now, ctx.lease);
  }

  return {
    id: taskId,
    state,
    round,
    claim,
    bids,
    attempts,
    failures,
    expiries,
    result,
    duplicates,
    errors,
    blockedBy,
    eligibleAt,
    lapsed,
    deadReason,
    roundOpenedAt,
    awaitingQuorum: exclusive && !claim ? [...(claimsByRound.get(round) ?? [])].sort((a, b) => compareBids(a, b, taskId)) : [],
    votes: exclusive ? (votesByRound.get(round) ?? []) : [],
    assignee,
    coAssignees: round === 1 && facts.assignee !== undefined && !exclusive ? (facts.coAssignees ?? []) : [],
    expiredHolders,
  };
}

export function isTerminal(state: TaskState): boolean {
  return state === 'done' || state === 'dead' || state === 'cancelled';
}
