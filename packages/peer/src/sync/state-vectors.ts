// Comparisons of Yjs state vectors (client id -> clock), used to decide who pulls from whom.

export type StateVector = ReadonlyMap<number, number>;

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
