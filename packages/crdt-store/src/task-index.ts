// The board's tasks and their facts: the validated index of both Y.Maps (specs, idempotency keys,
// the per-task fact index with its cached TaskFacts), the times this replica first saw each task
// and each fact (its own clock, which the lifecycle rules use instead of remote timestamps), the
// validated writes of specs and facts, and the Yjs ids of a task's entries.

import * as Y from 'yjs';
import { MeshError, type FactKind, type TaskFacts, type TaskSpec } from '@agentmesh/scheduler';
import { ROOT, factKey, parseFact, parseFactKey, parseTaskSpec, type FactKey, type Progress } from './schema.js';
import { addFact, newFactIndex, removeFact, taskFactsOf, type FactIndex } from './fact-index.js';
import { toPlain, type BoardContext } from './board-types.js';
import { mapEntryId, type ItemId } from './yjs-map-entry.js';

/** @internal Owned by one TaskBoard. */
export class TaskIndex {
  readonly tasksMap: Y.Map<unknown>;
  readonly factsMap: Y.Map<unknown>;
  readonly specs = new Map<string, TaskSpec>();
  readonly facts = new Map<string, FactIndex>();
  /** Fact key -> when this replica first saw the fact. */
  readonly seen = new Map<string, number>();
  /** Task id -> when this replica first saw the task. */
  readonly taskSeen = new Map<string, number>();
  private readonly keyIndex = new Map<string, string>();

  constructor(
    doc: Y.Doc,
    private readonly ctx: BoardContext,
  ) {
    this.tasksMap = doc.getMap(ROOT.tasks);
    this.factsMap = doc.getMap(ROOT.facts);
  }

  /** Forgets the index (not the first-sighting times) before a rebuild. */
  clearIndex(): void {
    this.specs.clear();
    this.facts.clear();
    this.keyIndex.clear();
  }

  /** Takes the current entry of `tasks/<id>` into the index; returns the task id. */
  ingestTask(id: string): string {
    const raw = this.tasksMap.get(id);
    if (raw === undefined) {
      const old = this.specs.get(id);
      if (old?.key !== undefined && this.keyIndex.get(old.key) === id) this.keyIndex.delete(old.key);
      this.specs.delete(id);
      this.facts.delete(id);
      return id;
    }
    const parsed = parseTaskSpec(raw, id);
    if (!parsed.ok) {
      this.specs.delete(id);
      this.ctx.reject(ROOT.tasks, id, parsed.reason);
      return id;
    }
    this.specs.set(id, parsed.value);
    if (parsed.value.key !== undefined) this.keyIndex.set(parsed.value.key, id);
    if (!this.taskSeen.has(id)) this.taskSeen.set(id, this.ctx.now());
    const f = this.facts.get(id);
    if (f) f.cached = undefined;
    return id;
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
    if (!idx) this.facts.set(fk.task, (idx = newFactIndex()));
    idx.cached = undefined;
    if (!this.seen.has(key)) this.seen.set(key, this.ctx.now());
    addFact(idx, fk, parsed.value);
    return fk.task;
  }

  // ---- writes --------------------------------------------------------------------------------------

  putTask(spec: TaskSpec): TaskSpec {
    const parsed = parseTaskSpec(spec, spec.id);
    if (!parsed.ok) throw new MeshError('INVALID_TASK', `invalid task: ${parsed.reason}`, { id: spec.id });
    if (this.tasksMap.has(spec.id)) return this.specs.get(spec.id) ?? parsed.value;
    this.ctx.transact(() => this.tasksMap.set(spec.id, toPlain(parsed.value)));
    return parsed.value;
  }

  putFact(k: FactKey, value: Record<string, unknown>, overwrite = false): boolean {
    const key = factKey(k);
    if (!overwrite && this.factsMap.has(key)) return false;
    const parsed = parseFact(k, value);
    if (!parsed.ok) throw new MeshError('INVALID_ARGUMENT', `invalid ${k.kind}: ${parsed.reason}`, { key });
    this.ctx.transact(() => this.factsMap.set(key, value));
    return true;
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
    const each = (kind: 'bid' | 'claim' | 'done' | 'fail' | 'progress' | 'vote', m: Map<string, unknown>) => {
      for (const sub of m.keys()) push(this.factsMap, `${id}/${kind}/${sub}`);
    };
    each('bid', idx.bids);
    each('claim', idx.claims);
    each('done', idx.dones);
    each('fail', idx.fails);
    each('progress', idx.progress);
    each('vote', idx.votes);
    for (const round of idx.expiries.keys()) push(this.factsMap, factKey({ task: id, kind: 'expire', round }));
    for (const round of idx.retries.keys()) push(this.factsMap, factKey({ task: id, kind: 'retry', round }));
    if (idx.cancel) push(this.factsMap, factKey({ task: id, kind: 'cancel' }));
    return out;
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
    return [...(this.facts.get(id)?.progress.values() ?? [])];
  }

  seenAt(task: string, kind: FactKind, round: number, peer: string): number {
    const key = kind === 'expire' ? factKey({ task, kind, round }) : factKey({ task, kind, round, peer });
    return this.seen.get(key) ?? this.taskSeenAt(task);
  }

  taskSeenAt(task: string): number {
    let t = this.taskSeen.get(task);
    if (t === undefined) this.taskSeen.set(task, (t = this.ctx.now()));
    return t;
  }
}
