// What a transaction's deletions do to the board's index, and what they tell the peer: the records of
// the tasks that left (for its archive), and the live tasks that lost facts with an activity batch
// another peer deleted (for it to write back). Their batch entries refer to the batches, whose
// bytes go with the change (BoardChange.sheets), instead of carrying a signature each. Kept out of board.ts, which only queues the removals.

import type { TaskFacts } from '@agentmesh/scheduler';
import type { BoardChange, TaskRecord } from './board-types.js';
import { recordOf } from './board-copy.js';
import type { TaskIndex } from './task-index.js';

/** Facts as a record holds them: an expiry without this replica's merge of who else expired the round. */
function asRecorded(f: TaskFacts): TaskFacts {
  if (!f.expiries.some((e) => e.alsoBy !== undefined)) return f;
  return { ...f, expiries: f.expiries.map(({ alsoBy: _merged, ...e }) => e) };
}

/** A deleted entry: its map and key. */
export type Removal = ['task' | 'fact' | 'seg' | 'act', string];

/**
 * Takes the entries deleted in a transaction out of the index. First the records of every task
 * whose spec goes (its spec and all its facts, deleted ones included), then the removals; the
 * records of tasks that are really gone go out with the change (the peer archives them), and so do
 * the records of live tasks that lost facts (BoardChange.dropped). @internal
 */
export function applyRemovals(tasks: TaskIndex, removals: readonly Removal[], c: BoardChange): void {
  c.deleted += removals.length;
  const leaving = new Set<string>();
  for (const [kind, key] of removals) {
    if (kind === 'task' && tasks.specs.has(key) && tasks.facts.get(key)?.segment === undefined) leaving.add(key);
    if (kind === 'seg') for (const id of tasks.segTasks.get(key) ?? []) if (tasks.facts.get(id)?.segment === key) leaving.add(id);
  }
  const records = new Map<string, TaskRecord>();
  const sheets = (c.sheets ??= new Map());
  const facts = new Map<string, TaskFacts>();
  for (const id of leaving) {
    const rec = recordOf(tasks, id, sheets);
    if (!rec) continue;
    records.set(id, rec);
    const f = tasks.getFacts(id);
    if (f) facts.set(id, asRecorded(f));
  }
  // Live tasks named by a deleted activity batch whose own entries stay (see BoardChange.dropped).
  const staying = new Map<string, TaskRecord>();
  for (const [kind, key] of removals) {
    if (kind !== 'act') continue;
    for (const fk of tasks.actFacts.get(key) ?? []) {
      if (leaving.has(fk.task) || staying.has(fk.task) || !tasks.specs.has(fk.task)) continue;
      const rec = recordOf(tasks, fk.task, sheets);
      if (rec) staying.set(fk.task, rec);
    }
  }
  for (const [kind, key] of removals) {
    if (kind === 'task') c.tasks.add(tasks.ingestTask(key));
    else if (kind === 'fact') {
      const t = tasks.ingestFact(key);
      if (t) c.tasks.add(t);
    } else if (kind === 'seg') for (const id of tasks.ingestSegment(key)) c.tasks.add(id);
    else for (const id of tasks.ingestActivity(key)) c.tasks.add(id);
  }
  for (const [id, rec] of records) {
    if (tasks.specs.has(id)) continue;
    c.removed.push(rec);
    const f = facts.get(id);
    if (f) (c.removedFacts ??= new Map()).set(id, f);
  }
  for (const [id, rec] of staying) {
    if (!tasks.specs.has(id)) continue;
    // Every fact it had, not only the lost ones: the rest may sit in other activity batches
    // that go the same way later, and a done without its claim would count for nothing.
    const held = new Set(tasks.factKeysOf(id));
    if (Object.keys(rec.facts).some((k) => !held.has(k))) c.dropped.push(rec);
  }
}
