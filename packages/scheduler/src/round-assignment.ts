// Rounds no task batch assigned (a retry after a failed run, round 1 of a task left unassigned)
// go to a peer of the registry, by capacity-weighted rendezvous: a pure function of the document,
// so no bids are written for them. Only peers that joined well before the round opened count, so
// that replicas agree on the registry they pick from.
import { rendezvousScore } from './rendezvous.js';
import { canRun } from './strategies.js';
import type { TaskSpec } from './types.js';

/** A peer of the registry as round assignment sees it. */
export interface RoundCandidate {
  id: string;
  capacity: number;
  capabilities: readonly string[];
  /** When it first registered (PeerInfo.joinedAt, else startedAt), by its own clock. */
  joinedAt: number;
}

/**
 * How long before a round opened (by the clocks in the document: the task's createdAt, the failed
 * run's time) a peer must have joined to be assigned the round from the registry. A peer that just
 * joined is not yet in every replica's registry, and replicas with different registries would name
 * different assignees (two runs); such rounds are bid on instead, or go to the peers that joined
 * earlier.
 */
export const REGISTRY_SETTLE_MS = 5000;

/**
 * The assignee of a round no batch assigned: the capacity-weighted rendezvous winner among the
 * registry's peers that can run the task, leaving out the peers that held an earlier round of it
 * (it failed or lapsed with them) while any other is left, and the peers that joined later than
 * REGISTRY_SETTLE_MS before `openedAt` (the round's opening time as the document records it). A
 * pure function of the document.
 */
export function pickAssignee(
  spec: Pick<TaskSpec, 'id' | 'type' | 'requires'>,
  round: number,
  candidates: readonly RoundCandidate[],
  excluded: ReadonlySet<string>,
  openedAt: number,
): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  let fallback: string | undefined;
  let fallbackScore = Infinity;
  const better = (s: number, id: string, bs: number, bid: string | undefined) => s < bs || (s === bs && bid !== undefined && id < bid);
  for (const c of candidates) {
    if (!canRun(spec, c.capabilities) || !(c.joinedAt + REGISTRY_SETTLE_MS <= openedAt)) continue;
    const score = rendezvousScore(spec.id, round, c.id, c.capacity);
    if (score === Infinity) continue;
    if (better(score, c.id, fallbackScore, fallback)) {
      fallback = c.id;
      fallbackScore = score;
    }
    if (!excluded.has(c.id) && better(score, c.id, bestScore, best)) {
      best = c.id;
      bestScore = score;
    }
  }
  return best ?? fallback;
}
