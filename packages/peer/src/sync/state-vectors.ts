// Comparisons of Yjs state vectors (client id -> clock), used to decide who pulls from whom, and a
// live view of a document's own clocks that reads its struct store instead of encoding and
// decoding a state vector (which costs a pass over every client on each message).

import * as Y from 'yjs';

/** A state vector: looked up by client, iterated as [client, clock]. A Map is one. */
export interface StateVector extends Iterable<[number, number]> {
  get(client: number): number | undefined;
}

/** The document's current clocks, read from its store when asked (not a snapshot). */
export function docClocks(doc: Y.Doc): StateVector {
  const store = doc.store;
  return {
    get: (client) => Y.getState(store, client),
    *[Symbol.iterator]() {
      for (const [client, structs] of store.clients) {
        const last = structs[structs.length - 1];
        if (last) yield [client, last.id.clock + last.length] as [number, number];
      }
    },
  };
}

/** True when `remote` (a state vector) holds every client clock of `local`. */
export function covers(remote: StateVector, local: StateVector): boolean {
  for (const [client, clock] of local) if ((remote.get(client) ?? 0) < clock) return false;
  return true;
}

/** True when `remote` (a state vector) has any client clock ahead of `local`. */
export function remoteIsAhead(remote: StateVector, local: StateVector): boolean {
  for (const [client, clock] of remote) if ((local.get(client) ?? 0) < clock) return true;
  return false;
}

/** How many items `remote` holds that `local` lacks. */
export function missingItems(remote: StateVector, local: StateVector): number {
  let missing = 0;
  for (const [client, clock] of remote) missing += Math.max(0, clock - (local.get(client) ?? 0));
  return missing;
}
