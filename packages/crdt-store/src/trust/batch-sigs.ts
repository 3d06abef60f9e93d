// The signatures of the batch entries a board holds, for the single entries split out of them: a
// generation copy writes each kept task of a task batch and each fact of an activity batch as a
// single entry, and the archive keeps finished tasks as single entries; each carries the batch
// signature and its Merkle path (CarriedSig) so it still verifies under its author. The batch bytes
// are kept by reference (Yjs holds them anyway) until the batch leaves the index, so a batch deleted
// in the transaction that archives its tasks can still be read; its Merkle levels are those its
// check or its signing built (else built once, on first use). The archive keeps a reference
// instead (SigRef) and the batch's bytes once (a sheet); signedRecord() rebuilds the signed entries.

import { decodeActivity, decodeTaskBatch, type ActivityBatch, type TaskBatch } from '../batch-codec.js';
import { activityEntries, activityLeaves, batchTaskEntry, taskBatchLeaves } from './leaves.js';
import type { CarriedSig } from './signature.js';
import { toB64url } from './encoding.js';
import type { EntryTrust } from './trust.js';

/** The raw bytes of the batches records refer to (`segs/<key>`, `acts/<key>`): see BatchSigs.ref. */
export type Sheets = Map<string, Uint8Array>;

/** In an archived record, where a CarriedSig would be: the batch (map and key) and the entry's index in it. */
export interface SigRef {
  b: 'segs' | 'acts';
  k: string;
  i: number;
}

/** True for a SigRef (a CarriedSig has its Merkle path `p`). */
export function isSigRef(x: unknown): x is SigRef {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const r = x as Record<string, unknown>;
  return (r.b === 'segs' || r.b === 'acts') && typeof r.k === 'string' && Number.isSafeInteger(r.i) && (r.i as number) >= 0 && !('p' in r);
}

interface Held {
  bytes: Uint8Array;
  levels?: Uint8Array[][];
  sig?: Uint8Array;
  /** The signature as base64url, made once for all the batch's entries. */
  sigText?: string;
  decoded?: TaskBatch | ActivityBatch;
}

/** @internal Owned by one TaskIndex. */
export class BatchSigs {
  private readonly held = new Map<string, Held>();

  constructor(private readonly trust: EntryTrust) {}

  /**
   * Keeps batch map/key; `known` is what verifying or signing it already built (its Merkle levels,
   * signature and decoded batch), so the archive and generation copies need not hash it again.
   */
  remember(map: 'segs' | 'acts', key: string, bytes: Uint8Array, known?: { levels?: Uint8Array[][] | undefined; sig: Uint8Array; decoded: TaskBatch | ActivityBatch }): void {
    this.held.set(`${map}/${key}`, known ? { bytes, levels: known.levels, sig: known.sig, decoded: known.decoded } : { bytes });
  }

  /** True when the batch at map/key is held. */
  holds(map: 'segs' | 'acts', key: string): boolean {
    return this.held.has(`${map}/${key}`);
  }

  forget(map: 'segs' | 'acts', key: string): void {
    this.held.delete(`${map}/${key}`);
  }

  /** The `sig` of entry `i` of the batch at map/key as a single entry; undefined if unsigned or unknown. */
  carried(map: 'segs' | 'acts', key: string, i: number): CarriedSig | undefined {
    const h = this.load(map, key);
    if (!h?.levels || !h.sig || i >= h.levels[0]!.length) return undefined;
    h.sigText ??= toB64url(h.sig);
    return this.trust.carried(map, key, h.levels, i, h.sigText);
  }

  /** Task `i` of a task batch as a signed single `tasks` entry. */
  taskEntry(key: string, i: number): Record<string, unknown> | undefined {
    const h = this.load('segs', key);
    const t = (h?.decoded as TaskBatch | undefined)?.tasks[i];
    const sig = this.carried('segs', key, i);
    return t && sig ? { ...batchTaskEntry(t), sig } : undefined;
  }

  /** Record `i` of an activity batch as a signed single `facts` entry (key, value). */
  factEntry(key: string, i: number): [string, Record<string, unknown>] | undefined {
    const h = this.load('acts', key);
    const batch = h?.decoded as ActivityBatch | undefined;
    const r = batch?.records[i];
    const sig = this.carried('acts', key, i);
    if (!batch || !r || !sig) return undefined;
    const [k, v] = activityEntries({ peer: batch.peer, records: [r] })[0]!;
    return [k, { ...v, sig }];
  }

  /**
   * A reference to entry `i` of the batch at map/key instead of its carried signature (what an
   * archive row keeps: the batch's bytes once, in `sheets`, rather than a Merkle path per entry);
   * undefined when the batch is not held. signedRecord() turns it back into the signed entry.
   */
  ref(map: 'segs' | 'acts', key: string, i: number, sheets: Sheets): SigRef | undefined {
    const h = this.held.get(`${map}/${key}`);
    if (!h) return undefined;
    sheets.set(`${map}/${key}`, h.bytes);
    return { b: map, k: key, i };
  }

  private load(map: 'segs' | 'acts', key: string): Held | undefined {
    const h = this.held.get(`${map}/${key}`);
    if (!h || h.levels) return h;
    let decoded = h.decoded;
    if (!decoded) {
      const parsed = map === 'segs' ? decodeTaskBatch(key, h.bytes) : decodeActivity(h.bytes);
      if (!parsed.ok) return undefined;
      decoded = parsed.value;
    }
    const scheme = this.trust.scheme;
    const leaves = map === 'segs' ? taskBatchLeaves(scheme, decoded as TaskBatch) : activityLeaves(scheme, decoded as ActivityBatch);
    h.decoded = decoded;
    h.sig = decoded.sig;
    h.levels = this.trust.levels(leaves);
    // Its levels were not built to check it (a version 3 batch is checked by its body signature, a
    // sheet not at all): its root's signature is checked before any entry carries it.
    const author = map === 'segs' ? (decoded as TaskBatch).createdBy : (decoded as ActivityBatch).peer;
    if (h.sig && !this.trust.rootVerifies(map, key, h.levels, h.sig, author)) h.sig = undefined;
    return h;
  }
}
