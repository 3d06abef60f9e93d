// Archived records without what their sheets hold. A record's batched entries (a task of a task
// batch, a fact of an activity batch) refer to their batch (`sig: {b, k, i}`) and carry the
// entry's values besides; the batch's bytes are kept once, as a sheet. A slim record keeps only the
// reference: the archive's unit rows hold slim records (a third of the bytes), and the values come
// back from the sheets when a record is read or its search row is made (fullRecord).

import type { ArchiveRecord } from './archive.js';
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

/**
 * A record whose batched entries keep only their reference (a record with none is returned as it
 * is). The archive's unit lines (archive-unit-lines.ts) write this form entry by entry, without a
 * copy of each record; this is the whole-record form that fullRecord inverts.
 */
export function slimRecord(rec: ArchiveRecord): ArchiveRecord {
  let out: ArchiveRecord | undefined;
  const specRef = refOf(rec.spec);
  if (specRef) out = { ...rec, spec: slimEntry(rec.spec, specRef) };
  for (const key in rec.facts) {
    const ref = refOf(rec.facts[key]);
    if (!ref) continue;
    out ??= { ...rec };
    if (out.facts === rec.facts) out.facts = { ...rec.facts };
    out.facts[key] = slimEntry(rec.facts[key], ref);
  }
  return out ?? rec;
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

/** A bare reference: an entry with nothing but its `sig` reference. */
export function bare(v: unknown): SigRef | undefined {
  const ref = refOf(v);
  return ref && Object.keys(v as object).length === 1 ? ref : undefined;
}

/**
 * The record a slim one stands for: each entry that is only a reference gets its values back from
 * its batch's bytes. Undefined when a sheet is missing or does not hold the entry (the record
 * cannot be made whole).
 */
export function fullRecord(slim: ArchiveRecord, sheet: (key: string) => Uint8Array | undefined, decoded: DecodedSheets = new Map()): ArchiveRecord | undefined {
  const read = new SheetReader(sheet, decoded);
  let out: ArchiveRecord | undefined;
  const specRef = bare(slim.spec);
  if (specRef) {
    const spec = read.spec(slim.id, specRef);
    if (!spec) return undefined;
    out = { ...slim, spec };
  }
  for (const key in slim.facts) {
    const ref = bare(slim.facts[key]);
    if (!ref) continue;
    const got = read.fact(ref);
    if (!got || got[0] !== key) return undefined;
    out ??= { ...slim };
    if (out.facts === slim.facts) out.facts = { ...slim.facts };
    out.facts[key] = got[1];
  }
  return out ?? slim;
}
