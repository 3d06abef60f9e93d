// Moving entries between boards and records: copying a board into the fresh document of the next
// generation (with its first-sighting times, handing back the raw records of the dropped tasks
// for the archive), and writing an archived record back into a document that lacks parts of it.
// Only valid entries move; raw values are copied as they are, so the new document holds the same
// JSON as the old one. With signed entries, an entry split out of a batch carries the batch's
// signature and Merkle path (trust/batch-sigs.ts) and so still verifies under its author.

import type { TaskSpec } from '@agentmesh/scheduler';
import { ROOT, factKey, parseFact, parseFactKey, parseTaskSpec, type FactKey } from './schema.js';
import { plainWith, toPlain, type BoardContext, type TaskRecord } from './board-types.js';
import { factKeyOfSeen, newFactIndex, seenKey, type FactEntry, type FactIndex } from './fact-index.js';
import type { TaskIndex } from './task-index.js';
import type { BatchSigs, SigRef, Sheets } from './trust/batch-sigs.js';
import { refOf } from './archive-refs.js';
import type { PeerIndex } from './peer-index.js';
import type { DataIndex } from './data-index.js';
import type { MemberIndex } from './member-index.js';

/** The parts of one TaskBoard that copying reads and writes. @internal */
export interface BoardParts {
  readonly tasks: TaskIndex;
  readonly peers: PeerIndex;
  readonly data: DataIndex;
  readonly members: MemberIndex;
  readonly ctx: BoardContext;
}

/** See TaskBoard.copyInto. @internal */
export function copyInto(from: BoardParts, target: BoardParts, drop: ReadonlySet<string>): TaskRecord[] {
  const { tasksMap, factsMap, specs } = from.tasks;
  const dropped = new Map<string, TaskRecord>();
  for (const id of drop) {
    const raw = tasksMap.get(id);
    if (raw !== undefined && specs.has(id)) dropped.set(id, { id, spec: raw, facts: {} });
  }
  // Tasks of task batches: dropped ones go to the archive as plain records, kept ones move into
  // the new document as single entries (with their assignee), and so do their batched facts.
  // With signed entries a batch none of whose tasks is dropped moves whole instead (its bytes and
  // signature as they are: one check on every replica, no split entries to sign or carry).
  const whole = wholeBatches(from, drop);
  const batchSpecs = new Map<string, Record<string, unknown>>();
  for (const [id, idx] of from.tasks.facts) {
    const spec = from.tasks.specs.get(id);
    if (idx.segment === undefined || !spec || whole.segs.has(idx.segment)) continue;
    const raw = specEntry(from.tasks, id, spec, idx, undefined);
    if (!raw) continue;
    if (drop.has(id)) dropped.set(id, { id, spec: raw, facts: {}, ...(idx.coAssignees && { coAssignees: [...idx.coAssignees] }) });
    else batchSpecs.set(id, raw);
  }
  carryObservations(from, target, drop);
  target.ctx.transact(() => {
    for (const key of whole.segs) if (!target.tasks.segsMap.has(key)) target.tasks.segsMap.set(key, from.tasks.segsMap.get(key));
    for (const key of whole.acts) if (!target.tasks.actsMap.has(key)) target.tasks.actsMap.set(key, from.tasks.actsMap.get(key));
    for (const [id, raw] of batchSpecs) if (!target.tasks.tasksMap.has(id) && !target.tasks.specs.has(id)) target.tasks.tasksMap.set(id, raw);
    for (const [actKey, fks] of from.tasks.actFacts) {
      if (whole.acts.has(actKey)) continue;
      for (const fk of fks) {
        const idx = from.tasks.facts.get(fk.task);
        const raw = idx ? rawFact(from.tasks, idx, fk, undefined) : undefined;
        if (!raw) continue;
        const key = factKey(fk);
        const rec = dropped.get(fk.task);
        if (rec) rec.facts[key] = raw;
        else if (!drop.has(fk.task) && !target.tasks.factsMap.has(key)) target.tasks.factsMap.set(key, raw);
      }
    }
    for (const [id, raw] of tasksMap.entries()) {
      if (drop.has(id) || !specs.has(id) || target.tasks.tasksMap.has(id)) continue;
      target.tasks.tasksMap.set(id, raw);
    }
    for (const [key, raw] of factsMap.entries()) {
      const fk = parseFactKey(key);
      if (!fk || !parseFact(fk, raw).ok) continue;
      const rec = dropped.get(fk.task);
      if (rec) {
        rec.facts[key] = raw;
        continue;
      }
      if (drop.has(fk.task) || target.tasks.factsMap.has(key)) continue;
      target.tasks.factsMap.set(key, raw);
    }
    const { peersMap, beatsMap, peerInfos, beatsIndex } = from.peers;
    for (const [id, raw] of peersMap.entries()) if (peerInfos.has(id) && !target.peers.peersMap.has(id)) target.peers.peersMap.set(id, raw);
    for (const [id, raw] of beatsMap.entries()) if (beatsIndex.has(id) && !target.peers.beatsMap.has(id)) target.peers.beatsMap.set(id, raw);
    for (const [k, raw] of from.data.dataMap.entries()) if (from.data.entries.has(k) && !target.data.dataMap.has(k)) target.data.dataMap.set(k, raw);
    // Removals move first-class: a removed member stays removed in every generation.
    for (const [k, raw] of from.members.membersMap.entries()) if (from.members.removals.has(k) && !target.members.membersMap.has(k)) target.members.membersMap.set(k, raw);
  });
  for (const [id, t] of from.peers.beatSeen) {
    const mine = from.peers.beatsIndex.get(id);
    const theirs = target.peers.beatsIndex.get(id);
    // The same heartbeat as ours: we saw it at `t`, not now. A newer one (from a base) keeps its new time.
    if (mine && theirs && mine.seq === theirs.seq && mine.at === theirs.at) target.peers.beatSeen.set(id, t);
  }
  return [...dropped.values()];
}

/** The batches a signed copy moves whole: held here, and naming no task that is dropped. */
function wholeBatches(from: BoardParts, drop: ReadonlySet<string>): { segs: Set<string>; acts: Set<string> } {
  const out = { segs: new Set<string>(), acts: new Set<string>() };
  if (!from.tasks.batchSigs) return out;
  for (const [key, ids] of from.tasks.segTasks) if (from.tasks.segsMap.has(key) && !ids.some((id) => drop.has(id))) out.segs.add(key);
  for (const [key, fks] of from.tasks.actFacts) if (from.tasks.actsMap.has(key) && !fks.some((fk) => drop.has(fk.task))) out.acts.add(key);
  return out;
}

/** See TaskBoard.carryObservations. @internal */
export function carryObservations(from: BoardParts, target: BoardParts, drop: ReadonlySet<string>): void {
  for (const [id, idx] of from.tasks.facts) {
    if (drop.has(id)) continue;
    let to = target.tasks.facts.get(id);
    if (!to) target.tasks.facts.set(id, (to = newFactIndex()));
    if (idx.taskSeenAt !== undefined) to.taskSeenAt ??= idx.taskSeenAt;
    // First sightings move with the facts: entries the target already holds keep theirs.
    for (const [k, e] of idx.entries ?? []) {
      const entries = (to.entries ??= new Map());
      const mine = entries.get(k);
      if (!mine) entries.set(k, { ...e });
      else if (e.seen < mine.seen) mine.seen = e.seen;
    }
  }
  for (const [id, t] of from.peers.beatSeen) if (!target.peers.beatSeen.has(id)) target.peers.beatSeen.set(id, t);
}

/** See TaskBoard.restore. @internal */
export function restore(board: BoardParts, rec: TaskRecord): number {
  const { tasksMap, factsMap } = board.tasks;
  let n = 0;
  board.ctx.transact(() => {
    if (!tasksMap.has(rec.id) && !board.tasks.specs.has(rec.id) && parseTaskSpec(rec.spec, rec.id).ok) {
      tasksMap.set(rec.id, rec.spec);
      n++;
    }
    for (const [key, raw] of Object.entries(rec.facts)) {
      const fk = parseFactKey(key);
      if (!fk || fk.task !== rec.id || factsMap.has(key) || !parseFact(fk, raw).ok) continue;
      factsMap.set(key, raw);
      n++;
    }
  });
  return n;
}

/**
 * The plain JSON value of a fact held in an index (as a single `facts` entry would hold it), with
 * its signature when entries are signed (undefined when it has none to carry). With `sheets`, a
 * fact from an activity batch gets a reference into the batch (its bytes go into `sheets`) instead
 * of the carried signature.
 */
function rawFact(tasks: TaskIndex, idx: FactIndex, fk: FactKey, sheets: Sheets | undefined): Record<string, unknown> | undefined {
  const e = idx.entries?.get(seenKey(fk));
  return e && rawEntry(tasks, e, sheets);
}

/** rawFact of an entry already looked up. */
function rawEntry(tasks: TaskIndex, e: FactEntry, sheets: Sheets | undefined): Record<string, unknown> | undefined {
  if (!tasks.batchSigs) return toPlain(e.fact.value as object);
  if (Array.isArray(e.sig)) {
    if (!sheets) return tasks.batchSigs.factEntry(e.sig[0] as string, e.sig[1] as number)?.[1];
    const ref = tasks.batchSigs.ref('acts', e.sig[0] as string, e.sig[1] as number, sheets);
    if (!ref) return undefined;
    return plainWith(e.fact.value as object, 'alsoBy', undefined, ['sig', ref]);
  }
  if (e.sig === undefined) return undefined;
  // What the author signed: the fact as written (`alsoBy` is this replica's merge of two expiries).
  return plainWith(e.fact.value as object, 'alsoBy', undefined, ['sig', e.sig]);
}

/** The single `tasks` entry of an indexed task (with its assignee, and its signature when entries are signed). */
function specEntry(tasks: TaskIndex, id: string, spec: TaskSpec, idx: FactIndex | undefined, sheets: Sheets | undefined): Record<string, unknown> | undefined {
  if (!tasks.batchSigs) return plainWith(spec, undefined, ['assignee', idx?.assignee]);
  if (idx?.segment !== undefined && idx.segIndex !== undefined) {
    if (!sheets) return tasks.batchSigs.taskEntry(idx.segment, idx.segIndex);
    const ref = tasks.batchSigs.ref('segs', idx.segment, idx.segIndex, sheets);
    return ref && plainWith(spec, undefined, ['assignee', idx.assignee], ['sig', ref]);
  }
  return idx?.specSig === undefined ? undefined : plainWith(spec, undefined, ['assignee', idx.assignee], ['sig', idx.specSig]);
}

/**
 * The record of a live task: its spec (with its assignee) and every fact, as plain JSON. With
 * `sheets` (the archive's records), an entry that came in a batch refers to the batch, whose bytes
 * are added to `sheets`, instead of carrying its signature and Merkle path: signedRecord() makes
 * the signed entries again when the record is written back. @internal
 */
export function recordOf(tasks: TaskIndex, id: string, sheets?: Sheets): TaskRecord | undefined {
  const spec = tasks.specs.get(id);
  const idx = tasks.facts.get(id);
  if (!spec) return undefined;
  const rec: TaskRecord = { id, spec: specEntry(tasks, id, spec, idx, sheets) ?? plainWith(spec, undefined, ['assignee', idx?.assignee]), facts: {} };
  if (!idx) return rec;
  if (idx.coAssignees !== undefined) rec.coAssignees = [...idx.coAssignees];
  if (idx.entries) for (const [key, e] of idx.entries) rec.facts[factKeyOfSeen(id, key)] = rawEntry(tasks, e, sheets) ?? toPlain(e.fact.value as object);
  return rec;
}

/**
 * A record whose entries refer to batches (recordOf with sheets) with those entries signed again:
 * each becomes the single entry the batch stands for, with the batch signature and its Merkle path.
 * An entry whose batch bytes `sheet` cannot give (or that do not hold it) keeps its plain value
 * without a signature. `sigs`: shared by the records of one call (each batch is hashed once). @internal
 */
export function signedRecord(rec: TaskRecord, sheet: (key: string) => Uint8Array | undefined, sigs: BatchSigs | undefined): TaskRecord {
  const held = (ref: SigRef): boolean => {
    if (!sigs) return false;
    if (sigs.holds(ref.b, ref.k)) return true;
    const bytes = sheet(`${ref.b}/${ref.k}`);
    if (!bytes) return false;
    sigs.remember(ref.b, ref.k, bytes);
    return true;
  };
  const unsigned = (v: unknown): Record<string, unknown> => {
    const { sig: _ref, ...plain } = v as Record<string, unknown>;
    return plain;
  };
  let out: TaskRecord | undefined;
  const specRef = refOf(rec.spec);
  if (specRef) {
    const entry = specRef.b === 'segs' && held(specRef) ? sigs!.taskEntry(specRef.k, specRef.i) : undefined;
    out = { ...rec, facts: { ...rec.facts }, spec: entry && entry.id === rec.id ? entry : unsigned(rec.spec) };
  }
  for (const [key, v] of Object.entries(rec.facts)) {
    const ref = refOf(v);
    if (!ref) continue;
    out ??= { ...rec, facts: { ...rec.facts } };
    const got = ref.b === 'acts' && held(ref) ? sigs!.factEntry(ref.k, ref.i) : undefined;
    out.facts[key] = got && got[0] === key ? got[1] : unsigned(v);
  }
  return out ?? rec;
}
/**
 * Deletes the entries of the given tasks from the live document (they are being archived), in one
 * transaction: single task entries with all their facts, task batches all of whose tasks go (a
 * batch with a task that stays is kept whole), and activity batches that name no task that stays.
 * Returns how many entries were deleted. @internal
 */
export function deleteTasks(board: BoardParts, requested: ReadonlySet<string>, archived: (id: string) => boolean = () => false): number {
  const t = board.tasks;
  const ids = deletableTasks(t, requested, archived);
  // A task this replica does not hold is gone only if it was archived here: else it may be a task
  // whose spec has not arrived yet, and deleting an activity batch naming it would take its
  // claims and outcomes away (its runner would run it again).
  const gone = (id: string) => ids.has(id) || (!t.specs.has(id) && archived(id));
  const segs = new Set<string>();
  const acts = new Set<string>();
  const singles: string[] = [];
  for (const id of ids) {
    const idx = t.facts.get(id);
    if (!t.specs.has(id) || !idx) continue;
    if (idx.segment !== undefined) {
      segs.add(idx.segment);
      for (const k of t.rivalBatches(id)) segs.add(k);
    } else singles.push(id);
    for (const k of idx.acts ?? []) acts.add(k);
  }
  const factKeys: string[] = [];
  for (const id of ids) {
    const idx = t.facts.get(id);
    if (!idx) continue;
    if (idx.entries) for (const key of idx.entries.keys()) factKeys.push(factKeyOfSeen(id, key));
  }
  let n = 0;
  board.ctx.transact(() => {
    for (const id of singles) if (t.tasksMap.has(id)) (t.tasksMap.delete(id), n++);
    for (const key of factKeys) if (t.factsMap.has(key)) (t.factsMap.delete(key), n++);
    for (const key of segs) {
      if (!(t.segTasks.get(key) ?? []).every(gone) || !t.segsMap.has(key)) continue;
      t.segsMap.delete(key);
      n++;
    }
    for (const key of acts) {
      if (!(t.actFacts.get(key) ?? []).every((fk) => gone(fk.task)) || !t.actsMap.has(key)) continue;
      t.actsMap.delete(key);
      n++;
    }
    // A deletion alone does not move the state vector, so a replica that missed it would never
    // learn of it from anti-entropy (it compares state vectors): insert something with it.
    if (n > 0) {
      const meta = t.tasksMap.doc!.getMap(ROOT.meta);
      const mark = `deleted:${t.tasksMap.doc!.clientID.toString(36)}`;
      meta.set(mark, ((meta.get(mark) as number | undefined) ?? 0) + n);
    }
  });
  return n;
}

/**
 * The requested tasks that can leave now. A task held by a task batch leaves only with its batch,
 * and its batch only with every task it names; and the other batches naming it (its id or key
 * submitted twice) leave in the same transaction, else the first of them would hold it again,
 * without its facts. A task that cannot leave keeps its spec *and* its facts.
 */
function deletableTasks(t: TaskIndex, requested: ReadonlySet<string>, archived: (id: string) => boolean): Set<string> {
  const ids = new Set(requested);
  // Memoized per round (a batch is looked at once per round, not once per task it holds).
  let goes = new Map<string, boolean>();
  const batchGoes = (key: string) => {
    let g = goes.get(key);
    if (g === undefined) goes.set(key, (g = (t.segTasks.get(key) ?? []).every((id) => ids.has(id) || (!t.specs.has(id) && archived(id)))));
    return g;
  };
  for (let changed = true; changed; ) {
    changed = false;
    goes = new Map();
    for (const id of ids) {
      const seg = t.specs.has(id) ? t.facts.get(id)?.segment : undefined;
      if (seg === undefined) continue;
      if (batchGoes(seg) && t.rivalBatches(id).every(batchGoes)) continue;
      ids.delete(id);
      changed = true;
    }
  }
  return ids;
}
