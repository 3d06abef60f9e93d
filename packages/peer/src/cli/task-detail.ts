// The task page: everything one task's facts say, for `agentmesh get ID` and the dashboard. The
// timeline of its facts (submitted, assigned, bids, claims, votes, runs that ended, failures,
// lease expiries, retries, a cancel, progress), each attempt with its peer, start, end, duration
// and error, the duplicate runs and why they happened, its dependencies and dependents with their
// states, the inputs it gets from its dependencies, and for a task that waits, why it waits.
// Built from the live document (facts and this replica's first sightings) or from the archive's
// record. Read-only: nothing here writes.

import { isTerminal, quorumOf, selectWinner, type Claim, type RunDone, type TaskFacts, type TaskSpec, type TaskState, type TaskView } from '@agentmesh/scheduler';
import { factsFromRecord } from '@agentmesh/crdt-store';
import type { Peer } from '../peer.js';

export interface TimelineEntry {
  /** Writer's clock (ms since epoch), as the fact carries it. */
  at: number;
  kind: 'submitted' | 'assigned' | 'bid' | 'claim' | 'vote' | 'started' | 'done' | 'failed' | 'expired' | 'retry' | 'cancel' | 'progress';
  round?: number;
  peer?: string;
  /** The peer's name when it is known. */
  name?: string;
  text: string;
}

export interface AttemptJson {
  round: number;
  peer: string;
  name: string;
  /** When its claim was written (its clock). */
  start: number | null;
  end: number | null;
  ms: number | null;
  outcome: 'done' | 'failed' | 'expired' | 'running' | 'claimed';
  error?: string;
  permanent?: boolean;
  /** This run's result is the task's result. */
  canonical?: boolean;
  /** A successful run whose result was not taken (see duplicateRuns). */
  duplicate?: boolean;
}

export interface DuplicateRunJson {
  round: number;
  peer: string;
  name: string;
  at: number;
  ms: number;
  why: string;
}

export interface RelatedTask {
  id: string;
  state: TaskState | 'unknown';
  type: string;
}

export interface WaitReason {
  reason: 'dependencies' | 'delay' | 'backoff' | 'no-agent' | 'agents-away' | 'quorum' | 'assigned' | 'bidding' | 'no-bids' | 'running' | 'lease-lapsed';
  message: string;
}

export interface TaskDetail {
  payload: unknown;
  round: number;
  deadReason?: string;
  spec: {
    priority: number;
    maxAttempts: number;
    timeoutMs: number;
    delayMs: number;
    requires: string[];
    dependsOn: string[];
    key?: string;
    exclusive: boolean;
    strategy: string;
    createdBy: string;
    createdByName?: string;
    assignee?: string;
  };
  inputs: Record<string, unknown>;
  dependencies: RelatedTask[];
  dependents: RelatedTask[];
  timeline: TimelineEntry[];
  runs: AttemptJson[];
  duplicateRuns: DuplicateRunJson[];
  waiting?: WaitReason;
  finishedAt?: number;
}

const fmtTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** The facts of a task, live or archived. */
export function factsOf(peer: Peer, id: string): { facts: TaskFacts; live: boolean } | undefined {
  const live = peer.document.board.getFacts(id);
  if (live) return { facts: live, live: true };
  const rec = peer.archived(id);
  const facts = rec ? factsFromRecord(rec) : undefined;
  return facts ? { facts, live: false } : undefined;
}

function related(peer: Peer, id: string): RelatedTask {
  const v = peer.view(id);
  if (v) return { id, state: v.state, type: peer.taskSpec(id)?.type ?? '' };
  const s = peer.archive.summary?.(id);
  if (s) return { id, state: s.state, type: s.type };
  const rec = peer.archived(id);
  if (rec) return { id, state: rec.state, type: String((rec.spec as { type?: unknown })?.type ?? '') };
  return { id, state: 'unknown', type: '' };
}

function dependentsOf(peer: Peer, id: string): string[] {
  const board = peer.document.board;
  const out = new Set<string>();
  for (const t of board.taskIds()) if (board.getSpec(t)?.dependsOn.includes(id)) out.add(t);
  for (const t of peer.archive.dependents?.(id) ?? []) out.add(t);
  return [...out].sort();
}

/** Why each duplicate run happened, as far as the facts tell. */
function whyDuplicate(d: RunDone, canonical: RunDone | undefined, facts: TaskFacts): string {
  if (facts.assignee !== undefined && d.round === 1 && d.peer !== facts.assignee) {
    return 'it ran under its own claim in round 1, which was assigned to another peer (the task was also named by another submission)';
  }
  if (canonical && d.round === canonical.round) {
    return `two peers held a claim in round ${d.round} (each side of a partition awarded it, or the claims crossed); the claim that ranks first gives the result`;
  }
  if (canonical && d.round > canonical.round) {
    return `round ${d.round} opened because the run of round ${canonical.round} looked gone (its lease lapsed), and that run finished anyway; the earliest round gives the result`;
  }
  return 'another run finished first in claim order';
}

function waitReason(peer: Peer, v: TaskView, spec: TaskSpec, facts: TaskFacts, now: number): WaitReason | undefined {
  const name = (id: string) => peer.peerName(id) ?? id.slice(-8);
  if (isTerminal(v.state)) return undefined;
  if (v.state === 'running' && v.claim) {
    if (v.lapsed) return { reason: 'lease-lapsed', message: `${name(v.claim.peer)} ran it but its lease lapsed (it looks gone): the task runs again once some peer writes the expiry` };
    return { reason: 'running', message: `running on ${name(v.claim.peer)} since ${fmtTime(v.claim.at)} (round ${v.round})` };
  }
  if (v.blockedBy.length > 0) {
    const deps = v.blockedBy.map((d) => `${d} (${related(peer, d).state})`);
    return { reason: 'dependencies', message: `waiting for ${v.blockedBy.length} ${v.blockedBy.length === 1 ? 'dependency' : 'dependencies'} to be done: ${deps.join(', ')}` };
  }
  if (v.eligibleAt > now) {
    const until = `${fmtTime(v.eligibleAt)} (in ${Math.ceil((v.eligibleAt - now) / 1000)} s)`;
    if (v.round === 1 && spec.notBefore > 0) return { reason: 'delay', message: `delayed until ${until} (submitted with --delay)` };
    return { reason: 'backoff', message: `retry backoff after ${v.failures} failed ${v.failures === 1 ? 'attempt' : 'attempts'}: may run again at ${until}` };
  }
  const board = peer.document.board;
  const needs = [spec.type, ...spec.requires];
  const able = board.peers().filter((p) => needs.every((c) => p.capabilities.includes(c)));
  if (able.length === 0) {
    const types = new Set(board.peers().flatMap((p) => p.capabilities));
    return { reason: 'no-agent', message: `no known peer runs agent type ${JSON.stringify(spec.type)}${spec.requires.length ? ` with ${spec.requires.join(', ')}` : ''} (known: ${[...types].sort().join(', ') || 'none'}); it runs when such a peer joins` };
  }
  if (!able.some((p) => peer.isAlive(p.id, now))) {
    return { reason: 'agents-away', message: `the peers that run ${JSON.stringify(spec.type)} (${able.map((p) => p.name).join(', ')}) are away from here` };
  }
  if (spec.exclusive && v.awaitingQuorum.length > 0) {
    const c = v.awaitingQuorum[0]!;
    const got = new Set(v.votes.filter((x) => x.round === c.round && x.for === c.peer).map((x) => x.voter)).size;
    const need = c.quorum ?? quorumOf(Math.max(1, board.peers().length));
    return { reason: 'quorum', message: `exclusive: ${name(c.peer)}'s claim waits for votes, ${got} of ${need} needed (a majority of the ${board.peers().length} known peers; a minority side of a partition never runs it)` };
  }
  if (v.state === 'claimed' && v.assignee !== undefined && !v.claim) {
    return { reason: 'assigned', message: `assigned to ${name(v.assignee)}, which has not started it yet (${peer.isAlive(v.assignee, now) ? 'alive, busy with earlier work' : 'away from here: it is released when its lease lapses'})` };
  }
  if (v.bids.length > 0) return { reason: 'bidding', message: `${v.bids.length} ${v.bids.length === 1 ? 'bid' : 'bids'} in round ${v.round} (best: ${name(v.bids[0]!.peer)}); the award settles after the bid window` };
  return { reason: 'no-bids', message: `no bids yet in round ${v.round}: the ${able.length === 1 ? 'peer' : 'peers'} that can run it (${able.map((p) => p.name).join(', ')}) ${able.length === 1 ? 'is' : 'are'} at full load or ${facts.bids.length ? 'bid in an earlier round' : 'have not looked yet'}` };
}

function timelineOf(peer: Peer, id: string, facts: TaskFacts, live: boolean): TimelineEntry[] {
  const name = (p: string) => peer.peerName(p) ?? p.slice(-8);
  const spec = facts.spec;
  const out: TimelineEntry[] = [{ at: spec.createdAt, kind: 'submitted', peer: spec.createdBy, name: name(spec.createdBy), text: `submitted through ${name(spec.createdBy)}` }];
  if (facts.assignee) out.push({ at: spec.createdAt, kind: 'assigned', round: 1, peer: facts.assignee, name: name(facts.assignee), text: `round 1 assigned to ${name(facts.assignee)} (no bids needed)` });
  for (const b of facts.bids) out.push({ at: b.at, kind: 'bid', round: b.round, peer: b.peer, name: name(b.peer), text: `${name(b.peer)} bid (score ${b.score.toFixed(3)}, load ${b.load}, capacity ${b.capacity}/s)` });
  for (const c of facts.claims) out.push({ at: c.at, kind: 'claim', round: c.round, peer: c.peer, name: name(c.peer), text: `${name(c.peer)} claimed round ${c.round}${c.quorum ? ` (needs ${c.quorum} votes)` : ''}` });
  for (const x of facts.votes ?? []) out.push({ at: x.at, kind: 'vote', round: x.round, peer: x.voter, name: name(x.voter), text: `${name(x.voter)} voted for ${name(x.for)}` });
  for (const d of facts.dones) out.push({ at: d.at, kind: 'done', round: d.round, peer: d.peer, name: name(d.peer), text: `${name(d.peer)} finished round ${d.round} in ${d.ms} ms` });
  for (const f of facts.fails) out.push({ at: f.at, kind: 'failed', round: f.round, peer: f.peer, name: name(f.peer), text: `${name(f.peer)} failed round ${f.round}${f.permanent ? ' (permanent: no retry)' : ''}: ${f.error}` });
  for (const e of facts.expiries) out.push({ at: e.at, kind: 'expired', round: e.round, peer: e.by, name: name(e.by), text: `${name(e.by)} saw the lease of round ${e.round} lapse` });
  for (const r of facts.retries ?? []) out.push({ at: r.at, kind: 'retry', round: r.round, peer: r.by, name: name(r.by), text: `revived by hand through ${name(r.by)} (after round ${r.round})` });
  if (facts.cancel) out.push({ at: facts.cancel.at, kind: 'cancel', peer: facts.cancel.by, name: name(facts.cancel.by), text: `cancelled through ${name(facts.cancel.by)}: ${facts.cancel.reason}` });
  if (live) {
    for (const p of peer.document.board.progress(id)) out.push({ at: p.at, kind: 'progress', round: p.round, peer: p.peer, name: name(p.peer), text: `${name(p.peer)}: ${Math.round(p.pct)}%${p.message ? ` ${p.message}` : ''}` });
  }
  const order: Record<TimelineEntry['kind'], number> = { submitted: 0, assigned: 1, bid: 2, claim: 3, vote: 4, started: 5, progress: 6, done: 7, failed: 8, expired: 9, retry: 10, cancel: 11 };
  return out.sort((a, b) => a.at - b.at || order[a.kind] - order[b.kind]);
}

function attemptsOf(peer: Peer, v: TaskView, facts: TaskFacts): AttemptJson[] {
  const name = (p: string) => peer.peerName(p) ?? p.slice(-8);
  const rounds = new Set<number>([...facts.claims.map((c) => c.round), ...facts.dones.map((d) => d.round), ...facts.fails.map((f) => f.round)]);
  const out: AttemptJson[] = [];
  for (const round of [...rounds].sort((a, b) => a - b)) {
    const claims = facts.claims.filter((c) => c.round === round);
    const claimOf = (p: string): Claim | undefined => claims.find((c) => c.peer === p);
    const ended = new Set<string>();
    for (const d of facts.dones.filter((x) => x.round === round)) {
      ended.add(d.peer);
      const c = claimOf(d.peer);
      const canonical = v.result !== undefined && v.result.peer === d.peer && v.result.round === round;
      out.push({ round, peer: d.peer, name: name(d.peer), start: c?.at ?? null, end: d.at, ms: d.ms, outcome: 'done', ...(canonical ? { canonical: true } : { duplicate: true }) });
    }
    for (const f of facts.fails.filter((x) => x.round === round)) {
      ended.add(f.peer);
      const c = claimOf(f.peer);
      out.push({ round, peer: f.peer, name: name(f.peer), start: c?.at ?? null, end: f.at, ms: c ? Math.max(0, f.at - c.at) : null, outcome: 'failed', error: f.error, ...(f.permanent ? { permanent: true } : {}) });
    }
    // A claim with no end: running now (the canonical claim of the current round), or cut short by an expiry.
    const open = claims.filter((c) => !ended.has(c.peer));
    const winner = selectWinner(open, facts.spec.id, round);
    for (const c of open) {
      if (c !== winner && !(v.claim && v.claim.peer === c.peer && v.round === round)) continue;
      const expiry = facts.expiries.find((e) => e.round === round);
      if (expiry) out.push({ round, peer: c.peer, name: name(c.peer), start: c.at, end: expiry.at, ms: Math.max(0, expiry.at - c.at), outcome: 'expired', error: 'its lease lapsed (the peer looked gone)' });
      else if (round === v.round && !isTerminal(v.state)) out.push({ round, peer: c.peer, name: name(c.peer), start: c.at, end: null, ms: null, outcome: v.state === 'running' ? 'running' : 'claimed' });
    }
  }
  return out;
}

/** The task page of a task this peer knows (live or archived); undefined if it knows none. */
export function taskDetail(peer: Peer, id: string, v: TaskView, now = Date.now()): TaskDetail | undefined {
  const got = factsOf(peer, id);
  if (!got) return undefined;
  const { facts, live } = got;
  const spec = facts.spec;
  const name = (p: string) => peer.peerName(p);
  const inputs: Record<string, unknown> = {};
  for (const dep of spec.dependsOn) {
    const dv = peer.view(dep);
    if (dv) inputs[dep] = dv.result?.result ?? null;
    else inputs[dep] = peer.archived(dep)?.result ?? null;
  }
  const duplicateRuns = v.duplicates.map((d) => ({ round: d.round, peer: d.peer, name: name(d.peer) ?? d.peer.slice(-8), at: d.at, ms: d.ms, why: whyDuplicate(d, v.result, facts) }));
  const waiting = waitReason(peer, v, spec, facts, now);
  const rec = live ? undefined : peer.archived(id);
  return {
    payload: spec.payload,
    round: v.round,
    ...(v.deadReason ? { deadReason: v.deadReason } : {}),
    spec: {
      priority: spec.priority,
      maxAttempts: spec.maxAttempts,
      timeoutMs: spec.timeoutMs,
      delayMs: spec.notBefore > 0 ? Math.max(0, spec.notBefore - spec.createdAt) : 0,
      requires: spec.requires,
      dependsOn: spec.dependsOn,
      ...(spec.key !== undefined ? { key: spec.key } : {}),
      exclusive: spec.exclusive === true,
      strategy: spec.strategy,
      createdBy: spec.createdBy,
      ...(name(spec.createdBy) ? { createdByName: name(spec.createdBy)! } : {}),
      ...(facts.assignee !== undefined ? { assignee: facts.assignee } : {}),
    },
    inputs,
    dependencies: spec.dependsOn.map((d) => related(peer, d)),
    dependents: dependentsOf(peer, id).map((d) => related(peer, d)),
    timeline: timelineOf(peer, id, facts, live),
    runs: attemptsOf(peer, v, facts),
    duplicateRuns,
    ...(waiting ? { waiting } : {}),
    ...(rec ? { finishedAt: rec.finishedAt } : {}),
  };
}
