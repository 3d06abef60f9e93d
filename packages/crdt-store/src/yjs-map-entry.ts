// The one place this package reads Yjs internals. Yjs (13.6.x) has no public API for "which
// item holds this key of a Y.Map": YMap.get/has/entries return only values, and YMapEvent,
// RelativePosition and the exported type helpers (typeMapGet*, getTypeChildren) never hand out
// the Item either. Every Y.Map keeps it in `_map: Map<string, Item>` (declared in Yjs's own
// typings on AbstractType, so the compiler checks this access): the item last integrated for
// the key, deleted or not. test/yjs-map-entry.test.ts pins that behaviour (current value,
// overwrite, delete, concurrent writes) and fails if a Yjs upgrade changes it.

import type * as Y from 'yjs';

/** A Yjs item id: the writing client and its clock at the write. */
export interface ItemId {
  client: number;
  clock: number;
}

/**
 * Id of the item that holds `key` in `map`: the write whose value `map.get(key)` returns, or
 * the last write of a key deleted since (Yjs keeps it as a tombstone); undefined for a key
 * never written in this replica.
 */
export function mapEntryId(map: Y.Map<unknown>, key: string): ItemId | undefined {
  return map._map.get(key)?.id;
}
