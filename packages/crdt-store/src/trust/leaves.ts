// The leaves a batch signature covers: one per single entry the batch stands for, hashed exactly as
// that single entry would be (signature.ts, leafOf). A task batch's task `i` is the `tasks` entry a
// generation copy writes for it (its spec with its assignee); an activity record is the `facts`
// entry it stands for. So a single entry split out of a batch verifies under the batch signature.

import type { ActivityBatch, TaskBatch } from '../batch-codec.js';
import { toPlain } from '../board-types.js';
import { factOf } from '../fact-index.js';
import { factKey } from '../schema.js';
import { leafOf, type SignatureScheme } from './signature.js';

/** The single `tasks` entry (plain JSON, without `sig`) task `t` of a batch stands for. */
export function batchTaskEntry(t: TaskBatch['tasks'][number]): Record<string, unknown> {
  return toPlain({ ...t.spec, assignee: t.assignee });
}

export function taskBatchLeaves(scheme: SignatureScheme, batch: TaskBatch): Uint8Array[] {
  return batch.tasks.map((t) => leafOf(scheme, 'tasks', t.spec.id, batchTaskEntry(t)));
}

/** The single `facts` entries (key, plain JSON without `sig`) an activity batch stands for. */
export function activityEntries(batch: ActivityBatch): Array<[string, Record<string, unknown>]> {
  return batch.records.map((r) => {
    const [fk, v] = factOf(batch.peer, r);
    return [factKey(fk), toPlain(v.value as object)];
  });
}

export function activityLeaves(scheme: SignatureScheme, batch: ActivityBatch): Uint8Array[] {
  return activityEntries(batch).map(([key, value]) => leafOf(scheme, 'facts', key, value));
}
