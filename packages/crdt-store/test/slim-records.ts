// The slim form of a whole archived record and its inverse, for tests: what the archive's unit lines
// (archive-unit-lines.ts) write entry by entry, and read back through SheetReader, stated once per
// record. No code of the archive calls these; the tests hold the unit lines and the sheets to them.

import type { ArchiveRecord } from '../src/index.js';
import { SheetReader, refOf, slimEntry, type DecodedSheets } from '../src/archive-refs.js';
import type { SigRef } from '../src/trust/batch-sigs.js';

/** A record whose batched entries keep only their reference (a record with none is returned as it is). */
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
