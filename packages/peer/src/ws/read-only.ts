// Websocket clients are readers, not members (docs/security.md): nothing a client sends may change
// the peer's document. A stock y-websocket client still sends updates of its own (the step 2 answer
// to the server's state vector, and on reconnect what it holds): those carry only structs and
// deletions the peer already has, and are harmless no-ops. This module tells such a no-op from a
// write (a new struct, a deletion the peer does not hold: a delete, a `meta` write, a fact, ...).
// Pure (reads the document, never changes it) and never throws.

import * as Y from 'yjs';

/** Why `update` would change `doc`, or null when it holds nothing `doc` lacks. */
export function clientWriteIn(doc: Y.Doc, update: Uint8Array): string | null {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch (e) {
    return `undecodable update: ${(e as Error).message || String(e)}`;
  }
  const pending = pendingRanges(doc);
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) continue;
    const { client, clock } = s.id;
    const end = clock + s.length;
    if (end <= Y.getState(doc.store, client)) continue;
    if ((pending.get(client) ?? []).some(([a, b]) => a <= clock && end <= b)) continue;
    return `it adds content (client ${client}, clock ${clock})`;
  }
  for (const [client, ranges] of decoded.ds.clients) {
    for (const { clock, len } of ranges) {
      if (!allDeleted(doc, client, clock, len)) return `it deletes content (client ${client}, clock ${clock}..${clock + len - 1})`;
    }
  }
  return null;
}

/** True when every struct of `client` in [clock, clock+len) is in `doc` and deleted. */
function allDeleted(doc: Y.Doc, client: number, clock: number, len: number): boolean {
  if (len <= 0) return true;
  const structs = doc.store.clients.get(client) as Array<{ id: { clock: number }; length: number; deleted: boolean }> | undefined;
  if (structs === undefined || clock + len > Y.getState(doc.store, client)) return false;
  let i: number;
  try {
    i = Y.findIndexSS(structs as never, clock);
  } catch {
    return false;
  }
  for (; i < structs.length && structs[i]!.id.clock < clock + len; i++) if (!structs[i]!.deleted) return false;
  return true;
}

/** Clock ranges per client of the structs `doc` holds as pending (waiting for a missing part). */
function pendingRanges(doc: Y.Doc): Map<number, Array<[number, number]>> {
  const out = new Map<number, Array<[number, number]>>();
  const p = doc.store.pendingStructs;
  if (p === null) return out;
  try {
    for (const s of Y.decodeUpdateV2(p.update).structs) { // Yjs keeps pending structs in the v2 encoding
      const list = out.get(s.id.client) ?? [];
      list.push([s.id.clock, s.id.clock + s.length]);
      out.set(s.id.client, list);
    }
  } catch {
    // an undecodable pending update covers nothing
  }
  return out;
}
