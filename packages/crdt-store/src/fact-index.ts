// The validated facts of one task and the TaskFacts view the lifecycle rules read. Shared by the
// live board (one index per task, updated from Yjs events, its view cached until the next change)
// and archived task records (built once from the raw facts). One map per task holds every fact,
// keyed by `<kind>/<round>/<peer>` (or `<kind>/<round>`, `cancel`), with when this replica first
// saw it: a busy board holds tens of thousands of these, so they are kept small.

import type { Cancel, TaskFacts, TaskSpec } from '@agentmesh/scheduler';
import { isId, parseFact, parseFactKey, parseTaskSpec, type FactKey, type FactValue, type Progress } from './schema.js';
import type { TaskRecord } from './board-types.js';
import type { ActivityRecord } from './batch-codec.js';

/** One fact of a task and when this replica first saw it (its clock). @internal */
export interface FactEntry {
  fact: FactValue;
  seen: number;
  /**
   * With signed entries: the `sig` of the single entry it came from, or the activity batch and
   * record index it came from (its signature is carried from there: trust/batch-sigs.ts).
   */
  sig?: unknown;
}

/** @internal */
export interface FactIndex {
  /** Every fact, by `seenKey`. */
  entries: Map<string, FactEntry> | undefined;
  /** Who runs round 1, when the task came in a task batch that assigned it. */
  assignee: string | undefined;
  /** Assignees of the other batches naming the same id (see TaskFacts.coAssignees). */
  coAssignees?: string[] | undefined;
  /** The task batch (`segs` key) that holds the spec, if it came in one. */
  segment: string | undefined;
  /** The index of the task in that batch. */
  segIndex?: number | undefined;
  /** With signed entries: the `sig` of the single `tasks` entry that holds the spec. */
  specSig?: unknown;
  /**
   * Activity batches (`acts` keys) that hold facts of this task, each once: usually one or two (an
   * array: a Set per live task was 2.8 MB of tables at 13,000 live tasks).
   */
  acts: string[] | undefined;
  /** When this replica first saw the task itself. */
  taskSeenAt: number | undefined;
  /** Cached TaskFacts, cleared on change. */
  cached: TaskFacts | undefined;
}

/** @internal */
export function newFactIndex(): FactIndex {
  return { entries: undefined, assignee: undefined, segment: undefined, acts: undefined, taskSeenAt: undefined, cached: undefined };
}

/** The key of a fact in its task's index: `<kind>/<round>/<peer>`, `<kind>/<round>` or `cancel`. */
export function seenKey(fk: FactKey): string {
  if (fk.kind === 'cancel') return 'cancel';
  return 'peer' in fk ? `${fk.kind}/${fk.round}/${fk.peer}` : `${fk.kind}/${fk.round}`;
}

/**
 * The factKey of the fact a task's index holds under `seen` (a seenKey): its task id, a slash and
 * that key, built without parsing the key and making it again (archival does this for every fact of
 * every task it archives). @internal
 */
export function factKeyOfSeen(task: string, seen: string): string {
  return `${task}/${seen}`;
}

/** Adds a fact (replacing one under the same key); `seen` is kept from an earlier sighting. @internal */
export function addFact(idx: FactIndex, fk: FactKey, v: FactValue, now: number, sig?: unknown): void {
  const key = seenKey(fk);
  const entries = (idx.entries ??= new Map());
  const old = entries.get(key);
  if (v.kind === 'expire' && old?.fact.kind === 'expire' && old.fact.value.by !== v.value.by) {
    // Two peers expired the same round (one may be its holder giving it back): keep who did, so
    // every replica that holds both can tell the holder released it, whichever arrived last.
    const by = new Set([...(old.fact.value.alsoBy ?? []), ...(v.value.alsoBy ?? []), old.fact.value.by]);
    by.delete(v.value.by);
    v = { kind: 'expire', value: { ...v.value, alsoBy: [...by].sort() } };
  }
  entries.set(key, sig === undefined ? { fact: v, seen: old?.seen ?? now } : { fact: v, seen: old?.seen ?? now, sig });
  idx.cached = undefined;
}

/** @internal */
export function removeFact(idx: FactIndex, fk: FactKey): void {
  idx.cached = undefined;
  idx.entries?.delete(seenKey(fk));
}

/** When this replica first saw a fact of the index, if it holds it. @internal */
export function factSeen(idx: FactIndex, key: string): number | undefined {
  return idx.entries?.get(key)?.seen;
}

/** Every fact of the index with its key (`kind/round/peer` form) and the FactKey it stands for. @internal */
export function* factsOf(id: string, idx: FactIndex): Generator<[FactKey, FactValue]> {
  if (!idx.entries) return;
  for (const [key, { fact }] of idx.entries) {
    const parts = key.split('/');
    const kind = parts[0] as FactKey['kind'];
    if (kind === 'cancel') yield [{ task: id, kind }, fact];
    else if (kind === 'expire' || kind === 'retry') yield [{ task: id, kind, round: Number(parts[1]) }, fact];
    else yield [{ task: id, kind, round: Number(parts[1]), peer: parts.slice(2).join('/') }, fact];
  }
}

/** Progress reports of a task. @internal */
export function progressOf(idx: FactIndex | undefined): Progress[] {
  const out: Progress[] = [];
  for (const { fact } of idx?.entries?.values() ?? []) if (fact.kind === 'progress') out.push(fact.value);
  return out;
}

/** The TaskFacts view of a fact index (what the lifecycle rules read). @internal */
export function taskFactsOf(spec: TaskSpec, idx: FactIndex): TaskFacts {
  const facts: TaskFacts = { spec, bids: [], claims: [], dones: [], fails: [], expiries: [], cancel: undefined, retries: [], votes: [] };
  let cancel: Cancel | undefined;
  for (const { fact } of idx.entries?.values() ?? []) {
    switch (fact.kind) {
      case 'bid': facts.bids.push(fact.value); break;
      case 'claim': facts.claims.push(fact.value); break;
      case 'done': facts.dones.push(fact.value); break;
      case 'fail': facts.fails.push(fact.value); break;
      case 'expire': facts.expiries.push(fact.value); break;
      case 'retry': facts.retries!.push(fact.value); break;
      case 'vote': facts.votes!.push(fact.value); break;
      case 'cancel': cancel = fact.value; break;
      case 'progress': break;
    }
  }
  facts.cancel = cancel;
  if (idx.assignee !== undefined) facts.assignee = idx.assignee;
  if (idx.coAssignees !== undefined) facts.coAssignees = idx.coAssignees;
  return facts;
}

/** The optional `assignee` of a task entry (who runs round 1), if it is a valid peer id. @internal */
export function assigneeOf(raw: unknown): string | undefined {
  const a = typeof raw === 'object' && raw !== null ? (raw as { assignee?: unknown }).assignee : undefined;
  return isId(a) ? a : undefined;
}

/** The validated facts of an archived task record (invalid parts skipped); undefined if its spec is invalid. */
export function factsFromRecord(rec: TaskRecord): TaskFacts | undefined {
  const spec = parseTaskSpec(rec.spec, rec.id);
  if (!spec.ok) return undefined;
  const idx = newFactIndex();
  idx.assignee = assigneeOf(rec.spec);
  const co = Array.isArray(rec.coAssignees) ? rec.coAssignees.filter((a) => isId(a) && a !== idx.assignee) : [];
  if (co.length > 0) idx.coAssignees = [...new Set(co)].sort();
  for (const [key, raw] of Object.entries(rec.facts ?? {})) {
    const fk = parseFactKey(key);
    if (!fk || fk.task !== rec.id) continue;
    const parsed = parseFact(fk, raw);
    if (parsed.ok) addFact(idx, fk, parsed.value, 0);
  }
  return taskFactsOf(spec.value, idx);
}

/** The fact an activity record stands for (its author is the batch's peer). */
export function factOf(peer: string, r: ActivityRecord): [FactKey, FactValue] {
  switch (r.kind) {
    case 'claim':
      return [{ task: r.task, kind: 'claim', round: r.round, peer }, { kind: 'claim', value: { peer, round: r.round, score: r.score, at: r.at } }];
    case 'done':
      return [{ task: r.task, kind: 'done', round: r.round, peer }, { kind: 'done', value: { peer, round: r.round, result: r.result, at: r.at, ms: r.ms } }];
    case 'fail':
      return [{ task: r.task, kind: 'fail', round: r.round, peer }, { kind: 'fail', value: r.permanent ? { peer, round: r.round, error: r.error, at: r.at, permanent: true } : { peer, round: r.round, error: r.error, at: r.at } }];
    case 'release':
      return [{ task: r.task, kind: 'expire', round: r.round }, { kind: 'expire', value: { round: r.round, by: peer, at: r.at } }];
  }
}

