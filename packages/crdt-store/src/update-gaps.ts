// Gaps in a document's history after a log record was lost. Yjs applies a client's updates in clock
// order, so when one logged update is unreadable every later update of the same client waits in
// the document's pending structs for the missing clocks: without help a lone peer would lose every
// record after the damaged one, not just that one. These helpers find the clock ranges the
// pending updates wait for and fill them with deleted (GC) content, so the waiting updates apply;
// what the lost range held stays lost (and so does anything written on top of it).

import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';

/** Clocks [from, to) of one Yjs client that a document lacks while later updates of it wait. */
export interface ClockGap {
  client: number;
  from: number;
  to: number;
}

/**
 * The clock ranges the document's pending updates wait for, one per client at most (a further gap
 * of the same client shows once this one is filled). Empty when nothing is pending.
 */
export function missingClocks(doc: Y.Doc): ClockGap[] {
  const pending = doc.store.pendingStructs;
  if (!pending) return [];
  const firstOwn = new Map<number, number>();
  const lastRef = new Map<number, number>();
  const refer = (id: Y.ID | null): void => {
    if (id) lastRef.set(id.client, Math.max(lastRef.get(id.client) ?? -1, id.clock));
  };
  for (const s of Y.decodeUpdateV2(pending.update).structs) {
    if (s instanceof Y.Skip) continue;
    const { client, clock } = s.id;
    firstOwn.set(client, Math.min(firstOwn.get(client) ?? Infinity, clock));
    if (s instanceof Y.Item) {
      refer(s.origin);
      refer(s.rightOrigin);
      if (s.parent instanceof Y.ID) refer(s.parent);
    }
  }
  const gaps: ClockGap[] = [];
  for (const client of new Set([...firstOwn.keys(), ...lastRef.keys()])) {
    const from = Y.getState(doc.store, client);
    const own = firstOwn.get(client);
    // A client's own pending updates start past what the document has: the clocks in between are missing.
    if (own !== undefined && own > from) gaps.push({ client, from, to: own });
    // Another client's pending item points at clocks of a client that has nothing pending itself.
    else if (own === undefined && (lastRef.get(client) ?? -1) >= from) gaps.push({ client, from, to: lastRef.get(client)! + 1 });
  }
  return gaps;
}

/** A Yjs (v1) update holding deleted content for exactly these clock ranges. */
export function encodeGapFiller(gaps: readonly ClockGap[]): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, gaps.length);
  for (const g of gaps) {
    encoding.writeVarUint(enc, 1); // one struct
    encoding.writeVarUint(enc, g.client);
    encoding.writeVarUint(enc, g.from);
    encoding.writeUint8(enc, 0); // a GC struct: content that is gone
    encoding.writeVarUint(enc, g.to - g.from);
  }
  encoding.writeVarUint(enc, 0); // no deletions
  return encoding.toUint8Array(enc);
}

/**
 * Fills every gap the pending updates wait for (repeating while filling one uncovers another) so
 * they apply. Each filler is applied with `origin` and handed to `sink` (to be logged). Returns the
 * gaps filled; empty when nothing was pending on a gap.
 */
export function fillMissingClocks(doc: Y.Doc, origin: unknown, sink: (update: Uint8Array) => void = () => {}): ClockGap[] {
  const filled: ClockGap[] = [];
  for (let round = 0; round < 10_000; round++) {
    const gaps = missingClocks(doc);
    if (gaps.length === 0) break;
    const update = encodeGapFiller(gaps);
    Y.applyUpdate(doc, update, origin);
    sink(update);
    filled.push(...gaps);
  }
  return filled;
}
