// Archived records without what their sheets hold. A record's batched entries (a task of a task
// batch, a fact of an activity batch) refer to their batch (`sig: {b, k, i}`) and carry the
// entry's values besides; the batch's bytes are kept once, as a sheet. A slim record keeps only the
// reference: the archive's unit rows hold slim records (a third of the bytes), and the values come
// back from the sheets when a record is read or its search row is made (SheetReader, through
// archive-unit-lines.ts).

import { decodeActivity, decodeTaskBatch, type ActivityBatch, type TaskBatch } from './batch-codec.js';
import { isSigRef, type SigRef } from './trust/batch-sigs.js';
import { activityEntries, batchTaskEntry } from './trust/leaves.js';

/** The SigRef of an entry that carries one. @internal */
export function refOf(v: unknown): SigRef | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const sig = (v as { sig?: unknown }).sig;
  return isSigRef(sig) ? sig : undefined;
}

/** What a slim record keeps of an entry (`ref`: its refOf): only the reference when it has one, else the entry. @internal */
export function slimEntry(v: unknown, ref: SigRef | undefined): unknown {
  return ref ? { sig: ref } : v;
}

/** Decoded sheets by key, shared by the records of one read (each sheet is decoded once). */
export type DecodedSheets = Map<string, TaskBatch | ActivityBatch | null>;

/** Reads entries of batches from their sheets, decoding each sheet once. */
export class SheetReader {
  constructor(
    private readonly sheet: (key: string) => Uint8Array | undefined,
    private readonly decoded: DecodedSheets = new Map(),
  ) {}

  private batch(ref: SigRef): TaskBatch | ActivityBatch | undefined {
    const key = `${ref.b}/${ref.k}`;
    let d = this.decoded.get(key);
    if (d === undefined) {
      const bytes = this.sheet(key);
      const parsed = bytes === undefined ? undefined : ref.b === 'segs' ? decodeTaskBatch(ref.k, bytes) : decodeActivity(bytes);
      d = parsed?.ok ? parsed.value : null;
      this.decoded.set(key, d);
    }
    return d ?? undefined;
  }

  /** The `tasks` entry of task `id` that a reference stands for (its values, and the reference as `sig`). */
  spec(id: string, ref: SigRef): Record<string, unknown> | undefined {
    const t = ref.b === 'segs' ? (this.batch(ref) as TaskBatch | undefined)?.tasks[ref.i] : undefined;
    return t && t.spec.id === id ? { ...batchTaskEntry(t), sig: ref } : undefined;
  }

  /** The `facts` entry (key, values and the reference as `sig`) that a reference stands for. */
  fact(ref: SigRef): [string, Record<string, unknown>] | undefined {
    const batch = ref.b === 'acts' ? (this.batch(ref) as ActivityBatch | undefined) : undefined;
    const r = batch?.records[ref.i];
    if (!batch || !r) return undefined;
    const [k, v] = activityEntries({ peer: batch.peer, records: [r] })[0]!;
    return [k, { ...v, sig: ref }];
  }
}
