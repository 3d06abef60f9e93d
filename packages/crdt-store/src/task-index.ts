// The board's tasks and their facts: the validated index of both Y.Maps (specs, idempotency keys,
// the per-task fact index with its cached TaskFacts), the times this replica first saw each task
// and each fact (its own clock, which the lifecycle rules use instead of remote timestamps), the
// validated writes of specs and facts, and the Yjs ids of a task's entries.

import * as Y from 'yjs';
import { MeshError, type FactKind, type TaskFacts, type TaskSpec } from '@agentmesh/scheduler';
import { ROOT, factKey, isId, isValidatedSpec, parseFact, parseFactKey, parseTaskSpec, type FactKey, type FactValue, type Progress } from './schema.js';
import { addFact, assigneeOf, factKeyOfSeen, factOf, factSeen, newFactIndex, progressOf, removeFact, seenKey, taskFactsOf, type FactIndex } from './fact-index.js';
import { BATCH_MAX, decodeActivity, decodeTaskBatch, encodeActivity, encodeTaskBatch, type ActivityBatch, type ActivityRecord, type TaskBatch } from './batch-codec.js';
import { toPlain, type BoardContext } from './board-types.js';
import { mapEntryId, type ItemId } from './yjs-map-entry.js';
import { BatchSigs } from './trust/batch-sigs.js';
import { factAuthor, signActivity, signFactsTogether, signTaskBatch, verifiedActivity, verifiedTaskBatch } from './trust/board-trust.js';

/** @internal Owned by one TaskBoard. */
export class TaskIndex {
  readonly tasksMap: Y.Map<unknown>;
  readonly factsMap: Y.Map<unknown>;
  /** Facts written inside signTogether (signed when it ends), and the number of its next batch key. */
  private together: Map<string, Record<string, unknown>> | undefined;
  private togetherSeq = 0;
  /** Created after every older map (see TaskBoard), so older documents keep their layout. */
  segsMap!: Y.Map<unknown>;
  actsMap!: Y.Map<unknown>;
  /** Task batch key -> ids of its tasks (as ingested). */
  readonly segTasks = new Map<string, string[]>();
  /** Activity batch key -> the facts it added. */
  readonly actFacts = new Map<string, FactKey[]>();
  /** Task id -> every batch key naming it, for ids named by more than one batch. */
  private readonly rivals = new Map<string, Map<string, string | undefined>>();
  readonly specs = new Map<string, TaskSpec>();
  readonly facts = new Map<string, FactIndex>();
  private readonly keyIndex = new Map<string, string>();
  /** Batch signatures for the single entries split out of batches (with signed entries only). */
  readonly batchSigs: BatchSigs | undefined;

  constructor(
    doc: Y.Doc,
    private readonly ctx: BoardContext,
  ) {
    this.tasksMap = doc.getMap(ROOT.tasks);
    this.factsMap = doc.getMap(ROOT.facts);
    this.batchSigs = ctx.trust && new BatchSigs(ctx.trust);
  }

  /** False (and counted by the trust) when a remote entry is not signed by its author. */
  private trusted(map: string, key: string, raw: unknown, author: string, keepTag = true): boolean {
    const t = this.ctx.trust;
    return !t || this.ctx.isLocal() || t.checkEntry(map, key, raw, author, keepTag);
  }

  /** Opens the batch maps (after the other maps exist). */
  openBatches(doc: Y.Doc): void {
    this.segsMap = doc.getMap(ROOT.segs);
    this.actsMap = doc.getMap(ROOT.acts);
  }

  /** Forgets the index (not the first-sighting times) before a rebuild. */
  clearIndex(): void {
    this.specs.clear();
    this.facts.clear();
    this.keyIndex.clear();
    this.segTasks.clear();
    this.actFacts.clear();
    this.rivals.clear();
  }

  /** Takes the current entry of `tasks/<id>` into the index; returns the task id. */
  ingestTask(id: string): string {
    const raw = this.tasksMap.get(id);
    if (raw === undefined) {
      // A task a task batch holds is not a single entry (a deleted restored copy changes nothing).
      if (this.facts.get(id)?.segment !== undefined) return id;
      const old = this.specs.get(id);
      if (old?.key !== undefined && this.keyIndex.get(old.key) === id) this.keyIndex.delete(old.key);
      this.specs.delete(id);
      this.facts.delete(id);
      return id;
    }
    const parsed = parseTaskSpec(raw, id);
    if (!parsed.ok || !this.trusted(ROOT.tasks, id, raw, parsed.value.createdBy)) {
      // An entry that does not count does not hide the task a batch holds under the same id.
      if (this.facts.get(id)?.segment === undefined) this.specs.delete(id);
      if (!parsed.ok) this.ctx.reject(ROOT.tasks, id, parsed.reason);
      return id;
    }
    this.specs.set(id, parsed.value);
    if (parsed.value.key !== undefined) this.keyIndex.set(parsed.value.key, id);
    let f = this.facts.get(id);
    if (!f) this.facts.set(id, (f = newFactIndex()));
    f.taskSeenAt ??= this.ctx.now();
    f.cached = undefined;
    // A single entry under the same id as a task of a batch wins, whatever arrived first.
    f.segment = undefined;
    f.assignee = assigneeOf(raw);
    f.specSig = (raw as { sig?: unknown }).sig;
    return id;
  }

  /**
   * Takes the current entry of `segs/<key>` (a task batch) into the index; returns the tasks whose
   * spec changed. A task id named by a single entry (`tasks`) is that entry's; an id named by more
   * than one batch (an explicit id or idempotency key submitted twice) belongs to the batch with
   * the smallest key, whatever arrived first, so every replica holds the same spec and assignee.
   */
  ingestSegment(key: string): string[] {
    const raw = this.segsMap.get(key);
    const named = this.segTasks.get(key);
    if (raw === undefined) {
      if (!named) return [];
      this.segTasks.delete(key);
      this.batchSigs?.forget('segs', key);
      const changed: string[] = [];
      for (const id of named) {
        const rivals = this.rivals.get(id);
        rivals?.delete(key);
        if (rivals && rivals.size <= 1) this.rivals.delete(id);
        if (this.facts.get(id)?.segment !== key) {
          if (rivals) {
            this.coAssign(id);
            changed.push(id);
          }
          continue;
        }
        changed.push(id);
        const next = rivals && rivals.size > 0 ? [...rivals.keys()].sort()[0] : undefined;
        const task = next === undefined ? undefined : this.batchTask(next, id);
        if (next !== undefined && task) {
          this.take(next, task.spec, task.assignee, task.index);
          this.coAssign(id);
        } else this.dropSpec(id);
      }
      return changed;
    }
    if (named) return [];
    const parsed = decodeTaskBatch(key, raw);
    if (!parsed.ok) {
      this.ctx.reject(ROOT.segs, key, parsed.reason);
      return [];
    }
    const trust = this.ctx.isLocal() ? undefined : this.ctx.trust;
    const checked = trust && verifiedTaskBatch(trust, key, parsed.value, raw as Uint8Array);
    if (trust && !checked) return [];
    this.batchSigs?.remember('segs', key, raw as Uint8Array, parsed.value.sig && { levels: checked?.levels, sig: parsed.value.sig, decoded: parsed.value });
    return this.ingestTasks(key, parsed.value.tasks);
  }

  /** Takes the tasks of batch `key` into the index (see ingestSegment); returns those whose spec changed. */
  private ingestTasks(key: string, tasks: readonly { spec: TaskSpec; assignee?: string }[]): string[] {
    const ids: string[] = [];
    const changed: string[] = [];
    let i = -1;
    for (const { spec, assignee } of tasks) {
      i++;
      ids.push(spec.id);
      if (this.tasksMap.has(spec.id) && this.singleCounts(spec.id)) continue;
      const current = this.specs.has(spec.id) ? this.facts.get(spec.id)?.segment : undefined;
      if (current !== undefined && current !== key) {
        let rivals = this.rivals.get(spec.id);
        if (!rivals) this.rivals.set(spec.id, (rivals = new Map([[current, this.facts.get(spec.id)?.assignee]])));
        rivals.set(key, assignee);
        if (current < key) {
          this.coAssign(spec.id);
          changed.push(spec.id);
          continue;
        }
      }
      this.take(key, spec, assignee, i);
      if (this.rivals.has(spec.id)) this.coAssign(spec.id);
      changed.push(spec.id);
    }
    this.segTasks.set(key, ids);
    return changed;
  }

  /** The other task batches naming `id` besides the one holding it (an id submitted twice), sorted. */
  rivalBatches(id: string): string[] {
    const rivals = this.rivals.get(id);
    if (!rivals) return [];
    const holder = this.facts.get(id)?.segment;
    return [...rivals.keys()].filter((k) => k !== holder).sort();
  }

  /** True when the single `tasks` entry of `id` counts (valid, signed by its creator): it then wins over batches. */
  private singleCounts(id: string): boolean {
    const raw = this.tasksMap.get(id);
    const parsed = parseTaskSpec(raw, id);
    return parsed.ok && this.trusted(ROOT.tasks, id, raw, parsed.value.createdBy);
  }

  /** Makes batch `key` the holder of `spec.id`. */
  private take(key: string, spec: TaskSpec, assignee: string | undefined, index: number): void {
    this.specs.set(spec.id, spec);
    if (spec.key !== undefined) this.keyIndex.set(spec.key, spec.id);
    let idx = this.facts.get(spec.id);
    if (!idx) this.facts.set(spec.id, (idx = newFactIndex()));
    idx.taskSeenAt ??= this.ctx.now();
    idx.cached = undefined;
    idx.segment = key;
    idx.segIndex = index;
    idx.specSig = undefined;
    idx.assignee = assignee;
  }

  /** The assignees of the other batches naming a contested id: they may claim round 1 too. */
  private coAssign(id: string): void {
    const idx = this.facts.get(id);
    if (!idx) return;
    idx.cached = undefined;
    const rivals = this.rivals.get(id);
    const others = new Set<string>();
    for (const [k, a] of rivals ?? []) if (k !== idx.segment && a !== undefined && a !== idx.assignee) others.add(a);
    idx.coAssignees = others.size > 0 ? [...others].sort() : undefined;
  }

  private dropSpec(id: string): void {
    const spec = this.specs.get(id);
    if (spec?.key !== undefined && this.keyIndex.get(spec.key) === id) this.keyIndex.delete(spec.key);
    this.specs.delete(id);
    this.facts.delete(id);
  }

  /** Task `id` as batch `key` names it (decoded again: only when a holder of a contested id went away). */
  private batchTask(key: string, id: string): { spec: TaskSpec; assignee: string | undefined; index: number } | undefined {
    const parsed = decodeTaskBatch(key, this.segsMap.get(key));
    if (!parsed.ok) return undefined;
    const index = parsed.value.tasks.findIndex((x) => x.spec.id === id);
    const t = parsed.value.tasks[index];
    return t && { spec: t.spec, assignee: t.assignee, index };
  }

  /** Takes the current entry of `acts/<key>` (an activity batch) into the index; returns the tasks it touched. */
  ingestActivity(key: string): string[] {
    const raw = this.actsMap.get(key);
    const before = this.actFacts.get(key);
    if (raw === undefined) {
      this.actFacts.delete(key);
      this.batchSigs?.forget('acts', key);
      const touched = new Set<string>();
      for (const fk of before ?? []) {
        const idx = this.facts.get(fk.task);
        if (!idx) continue;
        removeFact(idx, fk);
        if (idx.acts?.includes(key)) idx.acts.splice(idx.acts.indexOf(key), 1);
        touched.add(fk.task);
      }
      return [...touched];
    }
    if (before) return [];
    const parsed = decodeActivity(raw);
    if (!parsed.ok) {
      this.ctx.reject(ROOT.acts, key, parsed.reason);
      return [];
    }
    const trust = this.ctx.isLocal() ? undefined : this.ctx.trust;
    const checked = trust && verifiedActivity(trust, key, parsed.value, raw as Uint8Array);
    if (trust && !checked) return [];
    this.batchSigs?.remember('acts', key, raw as Uint8Array, parsed.value.sig && { levels: checked?.levels, sig: parsed.value.sig, decoded: parsed.value });
    return this.ingestRecords(key, parsed.value);
  }

  /** Takes the records of activity batch `key` into the index; returns the tasks they touched. */
  private ingestRecords(key: string, batch: ActivityBatch): string[] {
    const { peer } = batch;
    const added: FactKey[] = [];
    const touched = new Set<string>();
    const now = this.ctx.now();
    batch.records.forEach((r, i) => {
      const [fk, value] = factOf(peer, r);
      let idx = this.facts.get(r.task);
      if (!idx) this.facts.set(r.task, (idx = newFactIndex()));
      idx.cached = undefined;
      if (!idx.acts) idx.acts = [key];
      else if (!idx.acts.includes(key)) idx.acts.push(key);
      addFact(idx, fk, value, now, this.batchSigs && ([key, i] as const));
      added.push(fk);
      touched.add(r.task);
    });
    this.actFacts.set(key, added);
    return [...touched];
  }


  /** Takes the current entry of `facts/<key>` into the index; returns its task, undefined if invalid. */
  ingestFact(key: string): string | undefined {
    const fk = parseFactKey(key);
    if (!fk) {
      this.ctx.reject(ROOT.facts, key, 'fact key does not follow <task>/<kind>/<round>/<peer>');
      return undefined;
    }
    let idx = this.facts.get(fk.task);
    const raw = this.factsMap.get(key);
    if (raw === undefined) {
      if (idx) removeFact(idx, fk);
      return fk.task;
    }
    const parsed = parseFact(fk, raw);
    if (!parsed.ok) {
      this.ctx.reject(ROOT.facts, key, parsed.reason);
      return undefined;
    }
    if (!this.trusted(ROOT.facts, key, raw, factAuthor(parsed.value), fk.kind !== 'progress')) {
      if (idx) removeFact(idx, fk);
      return fk.task;
    }
    if (!idx) this.facts.set(fk.task, (idx = newFactIndex()));
    idx.cached = undefined;
    addFact(idx, fk, parsed.value, this.ctx.now(), this.ctx.trust && (raw as { sig?: unknown }).sig);
    return fk.task;
  }

  // ---- writes --------------------------------------------------------------------------------------

  putTask(spec: TaskSpec): TaskSpec {
    const parsed = parseTaskSpec(spec, spec.id);
    if (!parsed.ok) throw new MeshError('INVALID_TASK', `invalid task: ${parsed.reason}`, { id: spec.id });
    if (this.tasksMap.has(spec.id)) return this.specs.get(spec.id) ?? parsed.value;
    const plain = toPlain(parsed.value);
    this.ctx.transact(() => this.tasksMap.set(spec.id, this.ctx.trust ? this.ctx.trust.signed(ROOT.tasks, spec.id, plain) : plain));
    return parsed.value;
  }

  putTaskBatch(key: string, batch: TaskBatch): boolean {
    if (!isId(key)) throw new MeshError('INVALID_ARGUMENT', `task batch key ${key} is not an id`);
    if (batch.tasks.length === 0 || batch.tasks.length > BATCH_MAX) throw new MeshError('INVALID_ARGUMENT', `a task batch holds 1..${BATCH_MAX} tasks`);
    const tasks: { spec: TaskSpec; assignee?: string }[] = [];
    for (const t of batch.tasks) {
      let spec = t.spec;
      if (!isValidatedSpec(spec)) {
        const parsed = parseTaskSpec(t.spec, t.spec.id);
        if (!parsed.ok) throw new MeshError('INVALID_TASK', `invalid task: ${parsed.reason}`, { id: t.spec.id });
        spec = parsed.value;
      }
      if (spec.createdBy !== batch.createdBy || spec.createdAt !== batch.createdAt) throw new MeshError('INVALID_TASK', 'a task of a batch must have the batch\'s createdBy and createdAt', { id: spec.id });
      if (t.assignee !== undefined && !isId(t.assignee)) throw new MeshError('INVALID_ARGUMENT', `assignee ${t.assignee} is not a peer id`);
      tasks.push(t.assignee === undefined ? { spec } : { spec, assignee: t.assignee });
    }
    if (this.segsMap.has(key)) return false;
    const encoded = encodeTaskBatch(key, { ...batch, tasks });
    const signed = this.ctx.trust ? signTaskBatch(this.ctx.trust, key, encoded) : undefined;
    const bytes = signed?.bytes ?? encoded;
    this.ctx.transact(() => {
      this.segsMap.set(key, bytes);
      // This replica's own batch is indexed from what it wrote, not decoded back.
      this.ctx.changed(this.ingestTasks(key, tasks));
      this.batchSigs?.remember('segs', key, bytes, signed);
    });
    return true;
  }

  putActivity(key: string, batch: ActivityBatch): boolean {
    if (!isId(key)) throw new MeshError('INVALID_ARGUMENT', `activity batch key ${key} is not an id`);
    if (batch.records.length === 0) return false;
    if (this.actsMap.has(key)) return false;
    const encoded = encodeActivity(batch);
    const signed = this.ctx.trust ? signActivity(this.ctx.trust, key, encoded) : undefined;
    const bytes = signed?.bytes ?? encoded;
    this.ctx.transact(() => {
      this.actsMap.set(key, bytes);
      this.ctx.changed(this.ingestRecords(key, batch));
      this.batchSigs?.remember('acts', key, bytes, signed);
    });
    return true;
  }

  putFact(k: FactKey, value: Record<string, unknown>, overwrite = false): boolean {
    const key = factKey(k);
    if (!overwrite && (this.factsMap.has(key) || this.together?.has(key))) return false;
    const parsed = parseFact(k, value);
    if (!parsed.ok) throw new MeshError('INVALID_ARGUMENT', `invalid ${k.kind}: ${parsed.reason}`, { key });
    // Signed entries hold the normalized fact (what a reader parses back), so an archived copy
    // rebuilt from the index carries the same bytes the signature covers.
    const t = this.ctx.trust;
    const plain = t && (toPlain(parsed.value.value as object) as Record<string, unknown>);
    if (plain && this.together) this.together.set(key, plain);
    else this.ctx.transact(() => this.factsMap.set(key, plain ? t!.signed(ROOT.facts, key, plain) : value));
    return true;
  }

  /** Runs `fn`, then signs the facts it wrote together (signFactsTogether); until then only putFact knows them. */
  signTogether<T>(fn: () => T): T {
    const t = this.ctx.trust;
    if (this.together || !t) return fn();
    const together = (this.together = new Map());
    try {
      return fn();
    } finally {
      this.together = undefined;
      if (together.size > 0) {
        const entries = signFactsTogether(t, `f${this.factsMap.doc?.clientID.toString(36) ?? ''}`, () => this.togetherSeq++, [...together]);
        this.ctx.transact(() => {
          for (const [key, v] of entries) this.factsMap.set(key, v);
        });
      }
    }
  }

  // ---- reads ---------------------------------------------------------------------------------------

  taskByKey(key: string): string | undefined {
    return this.keyIndex.get(key);
  }

  /** Yjs ids of a task's spec and every fact (see TaskBoard.taskItemIds). */
  itemIds(id: string): ItemId[] {
    const out: ItemId[] = [];
    const push = (m: Y.Map<unknown>, key: string) => {
      const item = mapEntryId(m, key);
      if (item) out.push(item);
    };
    push(this.tasksMap, id);
    const idx = this.facts.get(id);
    if (!idx) return out;
    if (idx.segment !== undefined) push(this.segsMap, idx.segment);
    for (const k of idx.acts ?? []) push(this.actsMap, k);
    if (idx.entries) for (const key of idx.entries.keys()) push(this.factsMap, factKeyOfSeen(id, key));
    return out;
  }

  factKeysOf(id: string): string[] {
    const idx = this.facts.get(id);
    return idx?.entries ? [...idx.entries.keys()].map((key) => factKeyOfSeen(id, key)) : [];
  }

  getFacts(id: string): TaskFacts | undefined {
    const spec = this.specs.get(id);
    if (!spec) return undefined;
    let idx = this.facts.get(id);
    if (!idx) this.facts.set(id, (idx = newFactIndex()));
    idx.cached ??= taskFactsOf(spec, idx);
    return idx.cached;
  }

  progress(id: string): Progress[] {
    return progressOf(this.facts.get(id));
  }

  seenAt(task: string, kind: FactKind, round: number, peer: string): number {
    const idx = this.facts.get(task);
    const t = idx ? factSeen(idx, kind === 'expire' ? `expire/${round}` : `${kind}/${round}/${peer}`) : undefined;
    return t ?? this.taskSeenAt(task);
  }

  taskSeenAt(task: string): number {
    let idx = this.facts.get(task);
    if (!idx) this.facts.set(task, (idx = newFactIndex()));
    return (idx.taskSeenAt ??= this.ctx.now());
  }
}
