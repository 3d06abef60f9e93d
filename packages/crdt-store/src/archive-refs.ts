// Archived records without what their sheets hold. A record's batched entries (a task of a task
// batch, a fact of an activity batch) refer to their batch (`sig: {b, k, i}`) and carry the
// entry's values besides; the batch's bytes are kept once, as a sheet. A slim record keeps only the
// reference: the archive's unit rows hold slim records (a third of the bytes), and the values come
// back from the sheets when a record is read or its search row is made (fullRecord).

import type { ArchiveRecord } from './archive.js';
import { decodeActivity, decodeTaskBatch, type ActivityBatch, type TaskBatch } from './batch-codec.js';
import { isSigRef, type SigRef } from './trust/batch-sigs.js';
import { activityEntries, batchTaskEntry } from './trust/leaves.js';

/** The SigRef of an entry that carries one. */
function refOf(v: unknown): SigRef | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const sig = (v as { sig?: unknown }).sig;
  return isSigRef(sig) ? sig : undefined;
}

/** A record whose batched entries keep only their reference (a record with none is returned as it is). */
export function slimRecord(rec: ArchiveRecord): ArchiveRecord {
  let out: ArchiveRecord | undefined;
  const specRef = refOf(rec.spec);
  if (specRef) out = { ...rec, spec: { sig: specRef } };
  for (const key in rec.facts) {
    const ref = refOf(rec.facts[key]);
    if (!ref) continue;
    out ??= { ...rec };
    if (out.facts === rec.facts) out.facts = { ...rec.facts };
    out.facts[key] = { sig: ref };
  }
  return out ?? rec;
}

/** Decoded sheets by key, shared by the records of one read (each sheet is decoded once). */
export type DecodedSheets = Map<string, TaskBatch | ActivityBatch | null>;

/**
 * The record a slim one stands for: each entry that is only a reference gets its values back from
 * its batch's bytes (`sheet`). Undefined when a sheet is missing or does not hold the entry (the
 * record cannot be made whole).
 */
export function fullRecord(slim: ArchiveRecord, sheet: (key: string) => Uint8Array | undefined, decoded: DecodedSheets = new Map()): ArchiveRecord | undefined {
  const batchOf = (ref: SigRef): TaskBatch | ActivityBatch | undefined => {
    const key = `${ref.b}/${ref.k}`;
    let d = decoded.get(key);
    if (d === undefined) {
      const bytes = sheet(key);
      const parsed = bytes === undefined ? undefined : ref.b === 'segs' ? decodeTaskBatch(ref.k, bytes) : decodeActivity(bytes);
      d = parsed?.ok ? parsed.value : null;
      decoded.set(key, d);
    }
    return d ?? undefined;
  };
  const bare = (v: unknown): SigRef | undefined => {
    const ref = refOf(v);
    return ref && Object.keys(v as object).length === 1 ? ref : undefined;
  };
  let out: ArchiveRecord | undefined;
  const specRef = bare(slim.spec);
  if (specRef) {
    const t = specRef.b === 'segs' ? (batchOf(specRef) as TaskBatch | undefined)?.tasks[specRef.i] : undefined;
    if (!t || t.spec.id !== slim.id) return undefined;
    out = { ...slim, spec: { ...batchTaskEntry(t), sig: specRef } };
  }
  for (const key in slim.facts) {
    const ref = bare(slim.facts[key]);
    if (!ref) continue;
    const batch = ref.b === 'acts' ? (batchOf(ref) as ActivityBatch | undefined) : undefined;
    const r = batch?.records[ref.i];
    if (!batch || !r) return undefined;
    const [k, v] = activityEntries({ peer: batch.peer, records: [r] })[0]!;
    if (k !== key) return undefined;
    out ??= { ...slim };
    if (out.facts === slim.facts) out.facts = { ...slim.facts };
    out.facts[key] = { ...v, sig: ref };
  }
  return out ?? slim;
}
