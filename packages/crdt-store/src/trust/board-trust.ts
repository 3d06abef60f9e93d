// The board's signed writes and checks of batch entries, and whom each fact names as its author:
// the glue between the task index and EntryTrust, kept out of task-index.ts.

import { batchBody, decodeActivity, decodeTaskBatch, withSignatures, type ActivityBatch, type TaskBatch } from '../batch-codec.js';
import { ROOT, type FactValue } from '../schema.js';
import { activityLeaves, taskBatchLeaves } from './leaves.js';
import { leafOf } from './signature.js';
import { toB64url } from './encoding.js';
import type { EntryTrust } from './trust.js';

/** The peer a fact is written by (and must be signed by). */
export function factAuthor(f: FactValue): string {
  switch (f.kind) {
    case 'vote': return f.value.voter;
    case 'expire': case 'retry': case 'cancel': return f.value.by;
    default: return f.value.peer;
  }
}

/**
 * A batch signed by its author: its Merkle levels when they were built to check it (a version 2
 * batch), none for a version 3 batch (checked by its body signature: one hash of its bytes);
 * undefined (counted and reported) when it is not signed by its author.
 */
function verifiedBatch(trust: EntryTrust, map: 'segs' | 'acts', key: string, raw: Uint8Array, batch: { sig?: Uint8Array; bodySig?: Uint8Array }, author: string, leaves: () => Uint8Array[]): { levels?: Uint8Array[][] } | undefined {
  if (batch.bodySig) {
    const body = batchBody(raw);
    return body && trust.checkBatchBody(map, key, body, batch.bodySig, batch.sig, author) ? {} : undefined;
  }
  // The author is checked before any hashing: junk from a non-member costs nothing.
  const levels = trust.checkBatchLevels(map, key, () => trust.levels(leaves()), batch.sig, author);
  return levels && { levels };
}

/** A task batch signed by its creator (see verifiedBatch). */
export function verifiedTaskBatch(trust: EntryTrust, key: string, batch: TaskBatch, raw: Uint8Array): { levels?: Uint8Array[][] } | undefined {
  return verifiedBatch(trust, 'segs', key, raw, batch, batch.createdBy, () => taskBatchLeaves(trust.scheme, batch));
}

/** An activity batch signed by its peer (see verifiedBatch). */
export function verifiedActivity(trust: EntryTrust, key: string, batch: ActivityBatch, raw: Uint8Array): { levels?: Uint8Array[][] } | undefined {
  return verifiedBatch(trust, 'acts', key, raw, batch, batch.peer, () => activityLeaves(trust.scheme, batch));
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
 * reader will, so writer and readers hash the same values. The bytes returned are version 3: the
 * Merkle root's signature (for entries split out of it) and the body's (what readers check).
 */
export function signTaskBatch(trust: EntryTrust, key: string, encoded: Uint8Array): SignedBatch<TaskBatch> {
  const parsed = decodeTaskBatch(key, encoded);
  if (!parsed.ok) throw new Error(`cannot sign an invalid task batch: ${parsed.reason}`);
  const { sig, levels } = trust.signBatchLevels('segs', key, taskBatchLeaves(trust.scheme, parsed.value));
  const bodySig = trust.signBatchBody('segs', key, encoded.subarray(1));
  return { bytes: withSignatures(encoded, sig, bodySig), sig, levels, decoded: { ...parsed.value, sig, bodySig } };
}

export function signActivity(trust: EntryTrust, key: string, encoded: Uint8Array): SignedBatch<ActivityBatch> {
  const parsed = decodeActivity(encoded);
  if (!parsed.ok) throw new Error(`cannot sign an invalid activity batch: ${parsed.reason}`);
  const { sig, levels } = trust.signBatchLevels('acts', key, activityLeaves(trust.scheme, parsed.value));
  const bodySig = trust.signBatchBody('acts', key, encoded.subarray(1));
  return { bytes: withSignatures(encoded, sig, bodySig), sig, levels, decoded: { ...parsed.value, sig, bodySig } };
}

/** Facts signed by one signature at most (its Merkle path grows by 32 bytes each time this doubles). */
export const TOGETHER_MAX = 32;

/**
 * Signs single `facts` entries written together (a pass of the main loop: its bids, claims,
 * expiries and votes) with one signature per TOGETHER_MAX of them: each carries the signature of
 * the Merkle root of their leaves under an activity-batch key of its own (`prefix.<n>`), with its
 * path, exactly as an entry split out of an activity batch does, so every reader already checks it,
 * and checks the signature once for all of them (EntryTrust.checkEntry's batchRoots). A lone fact
 * keeps its direct signature. At 30 peers the stalled mesh spent half its time on Ed25519 checks of
 * such facts, one each.
 */
export function signFactsTogether(trust: EntryTrust, prefix: string, nextSeq: () => number, facts: [string, Record<string, unknown>][]): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  for (let o = 0; o < facts.length; o += TOGETHER_MAX) {
    const chunk = facts.slice(o, o + TOGETHER_MAX);
    if (chunk.length === 1) {
      const [key, v] = chunk[0]!;
      out.push([key, trust.signed(ROOT.facts, key, v)]);
      continue;
    }
    const batchKey = `${prefix}.${nextSeq().toString(36)}`;
    const { sig, levels } = trust.signBatchLevels('acts', batchKey, chunk.map(([key, v]) => leafOf(trust.scheme, ROOT.facts, key, v)));
    const sigText = toB64url(sig);
    chunk.forEach(([key, v], i) => out.push([key, { ...v, sig: trust.carried('acts', batchKey, levels, i, sigText) }]));
  }
  return out;
}
