// The validated facts of one task, grouped by kind, and the TaskFacts view the lifecycle rules
// read. Shared by the live board (one index per task, updated from Yjs events, its view cached
// until the next change) and archived task records (built once from the raw facts).

import type { Bid, Cancel, Claim, LeaseExpired, Retry, RunDone, RunFailed, TaskFacts, TaskSpec, Vote } from '@agentmesh/scheduler';
import { isId, parseFact, parseFactKey, parseTaskSpec, type FactKey, type FactValue, type Progress } from './schema.js';
import type { TaskRecord } from './board-types.js';

/** @internal */
export interface FactIndex {
  bids: Map<string, Bid>;
  claims: Map<string, Claim>;
  dones: Map<string, RunDone>;
  fails: Map<string, RunFailed>;
  expiries: Map<number, LeaseExpired>;
  retries: Map<number, Retry>;
  votes: Map<string, Vote>;
  progress: Map<string, Progress>;
  cancel: Cancel | undefined;
  /** Who runs round 1, when the task came in a task batch that assigned it. */
  assignee: string | undefined;
  /** The task batch (`segs` key) that holds the spec, if it came in one. */
  segment: string | undefined;
  /** Activity batches (`acts` keys) that hold facts of this task. */
  acts: Set<string> | undefined;
  /** When this replica first saw each fact (`<kind>/<round>/<peer>`, `expire/<round>`), its clock. */
  seen: Map<string, number>;
  /** When this replica first saw the task itself. */
  taskSeenAt: number | undefined;
  /** Cached TaskFacts, cleared on change. */
  cached: TaskFacts | undefined;
}

/** @internal */
export function newFactIndex(): FactIndex {
  return { bids: new Map(), claims: new Map(), dones: new Map(), fails: new Map(), expiries: new Map(), retries: new Map(), votes: new Map(), progress: new Map(), cancel: undefined, assignee: undefined, segment: undefined, acts: undefined, seen: new Map(), taskSeenAt: undefined, cached: undefined };
}

/** @internal */
export function addFact(idx: FactIndex, fk: FactKey, v: FactValue): void {
  const sub = 'peer' in fk ? `${fk.round}/${fk.peer}` : '';
  switch (v.kind) {
    case 'bid': idx.bids.set(sub, v.value); break;
    case 'claim': idx.claims.set(sub, v.value); break;
    case 'done': idx.dones.set(sub, v.value); break;
    case 'fail': idx.fails.set(sub, v.value); break;
    case 'progress': idx.progress.set(sub, v.value); break;
    case 'expire': idx.expiries.set(v.value.round, v.value); break;
    case 'retry': idx.retries.set(v.value.round, v.value); break;
    case 'vote': idx.votes.set(sub, v.value); break;
    case 'cancel': idx.cancel = v.value; break;
  }
}

/** @internal */
export function removeFact(idx: FactIndex, fk: FactKey): void {
  idx.cached = undefined;
  if (fk.kind === 'cancel') idx.cancel = undefined;
  else if (fk.kind === 'expire') idx.expiries.delete(fk.round);
  else if (fk.kind === 'retry') idx.retries.delete(fk.round);
  else if ('peer' in fk) {
    const sub = `${fk.round}/${fk.peer}`;
    ({ bid: idx.bids, claim: idx.claims, done: idx.dones, fail: idx.fails, progress: idx.progress, vote: idx.votes })[fk.kind].delete(sub);
  }
}

/** The optional `assignee` of a task entry (who runs round 1), if it is a valid peer id. @internal */
export function assigneeOf(raw: unknown): string | undefined {
  const a = typeof raw === 'object' && raw !== null ? (raw as { assignee?: unknown }).assignee : undefined;
  return isId(a) ? a : undefined;
}

/** The TaskFacts view of a fact index (what the lifecycle rules read). @internal */
export function taskFactsOf(spec: TaskSpec, idx: FactIndex): TaskFacts {
  const facts: TaskFacts = {
    spec,
    bids: [...idx.bids.values()],
    claims: [...idx.claims.values()],
    dones: [...idx.dones.values()],
    fails: [...idx.fails.values()],
    expiries: [...idx.expiries.values()],
    cancel: idx.cancel,
    retries: [...idx.retries.values()],
    votes: [...idx.votes.values()],
  };
  if (idx.assignee !== undefined) facts.assignee = idx.assignee;
  return facts;
}

/** The validated facts of an archived task record (invalid parts skipped); undefined if its spec is invalid. */
export function factsFromRecord(rec: TaskRecord): TaskFacts | undefined {
  const spec = parseTaskSpec(rec.spec, rec.id);
  if (!spec.ok) return undefined;
  const idx = newFactIndex();
  idx.assignee = assigneeOf(rec.spec);
  for (const [key, raw] of Object.entries(rec.facts ?? {})) {
    const fk = parseFactKey(key);
    if (!fk || fk.task !== rec.id) continue;
    const parsed = parseFact(fk, raw);
    if (parsed.ok) addFact(idx, fk, parsed.value);
  }
  return taskFactsOf(spec.value, idx);
}
