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

/** The Merkle levels of a task batch signed by its creator; undefined (counted and reported) otherwise. */
export function verifiedTaskBatch(trust: EntryTrust, key: string, batch: TaskBatch): Uint8Array[][] | undefined {
  // The creator is checked before any hashing: junk from a non-member costs nothing.
  return trust.checkBatchLevels('segs', key, () => trust.levels(taskBatchLeaves(trust.scheme, batch)), batch.sig, batch.createdBy);
}

/** The Merkle levels of an activity batch signed by its peer; undefined (counted and reported) otherwise. */
export function verifiedActivity(trust: EntryTrust, key: string, batch: ActivityBatch): Uint8Array[][] | undefined {
  return trust.checkBatchLevels('acts', key, () => trust.levels(activityLeaves(trust.scheme, batch)), batch.sig, batch.peer);
}

/** A signed batch as written: its bytes, its signature, its Merkle levels and the batch as readers decode it. */
export interface SignedBatch<T> {
  bytes: Uint8Array;
  sig: Uint8Array;
  levels: Uint8Array[][];
  decoded: T;
}

/**
 * Signs an encoded (version 1) task batch: its leaves come from decoding the bytes, exactly as a
 * reader will, so writer and readers hash the same values. The bytes returned are version 2.
 */
export function signTaskBatch(trust: EntryTrust, key: string, encoded: Uint8Array): SignedBatch<TaskBatch> {
  const parsed = decodeTaskBatch(key, encoded);
  if (!parsed.ok) throw new Error(`cannot sign an invalid task batch: ${parsed.reason}`);
  const { sig, levels } = trust.signBatchLevels('segs', key, taskBatchLeaves(trust.scheme, parsed.value));
  return { bytes: withSignature(encoded, sig), sig, levels, decoded: { ...parsed.value, sig } };
}

export function signActivity(trust: EntryTrust, key: string, encoded: Uint8Array): SignedBatch<ActivityBatch> {
  const parsed = decodeActivity(encoded);
  if (!parsed.ok) throw new Error(`cannot sign an invalid activity batch: ${parsed.reason}`);
  const { sig, levels } = trust.signBatchLevels('acts', key, activityLeaves(trust.scheme, parsed.value));
  return { bytes: withSignature(encoded, sig), sig, levels, decoded: { ...parsed.value, sig } };
}

