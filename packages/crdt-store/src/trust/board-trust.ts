// The board's signed writes and checks of batch entries, and whom each fact names as its author:
// the glue between the task index and EntryTrust, kept out of task-index.ts.

import { decodeActivity, decodeTaskBatch, withSignature, type ActivityBatch, type TaskBatch } from '../batch-codec.js';
import type { FactValue } from '../schema.js';
import { activityLeaves, taskBatchLeaves } from './leaves.js';
import type { EntryTrust } from './trust.js';

/** The peer a fact is written by (and must be signed by). */
export function factAuthor(f: FactValue): string {
  switch (f.kind) {
    case 'vote': return f.value.voter;
    case 'expire': case 'retry': case 'cancel': return f.value.by;
    default: return f.value.peer;
  }
}

/** True when a task batch is signed by its creator (counted and reported otherwise). */
export function verifyTaskBatch(trust: EntryTrust, key: string, batch: TaskBatch): boolean {
  // The creator is checked before any hashing: junk from a non-member costs nothing.
  if (!trust.isMember(batch.createdBy)) return trust.checkBatch('segs', key, [], batch.sig, batch.createdBy);
  return trust.checkBatch('segs', key, taskBatchLeaves(trust.scheme, batch), batch.sig, batch.createdBy);
}

export function verifyActivity(trust: EntryTrust, key: string, batch: ActivityBatch): boolean {
  if (!trust.isMember(batch.peer)) return trust.checkBatch('acts', key, [], batch.sig, batch.peer);
  return trust.checkBatch('acts', key, activityLeaves(trust.scheme, batch), batch.sig, batch.peer);
}

/**
 * Signs an encoded (version 1) task batch: its leaves come from decoding the bytes, exactly as a
 * reader will, so writer and readers hash the same values. Returns the version 2 bytes.
 */
export function signTaskBatch(trust: EntryTrust, key: string, encoded: Uint8Array): Uint8Array {
  const parsed = decodeTaskBatch(key, encoded);
  if (!parsed.ok) throw new Error(`cannot sign an invalid task batch: ${parsed.reason}`);
  return withSignature(encoded, trust.signBatch('segs', key, taskBatchLeaves(trust.scheme, parsed.value)));
}

export function signActivity(trust: EntryTrust, key: string, encoded: Uint8Array): Uint8Array {
  const parsed = decodeActivity(encoded);
  if (!parsed.ok) throw new Error(`cannot sign an invalid activity batch: ${parsed.reason}`);
  return withSignature(encoded, trust.signBatch('acts', key, activityLeaves(trust.scheme, parsed.value)));
}
