// The award rule: who wins a task round. Every replica sees the same set of bids eventually but in
// different orders and with different Yjs client ids, so the winner is a pure function of the set
// of bids alone: a total order on (score, hash, peer, round), never arrival order.
import { unitHash } from './hash.js';

export type Scored = { peer: string; round: number; score: number };

/** Non-finite and NaN scores rank last, equal to each other. */
function rankScore(s: number): number {
  return Number.isFinite(s) ? s : Infinity;
}

/**
 * Total order on bids: score ascending (non-finite/NaN as +Infinity), then
 * unitHash(taskId, round, peer) ascending (a fair, seed-free tie-break), then peer id (plain `<`),
 * then round. Returns -1, 0 or 1.
 */
export function compareBids(a: Scored, b: Scored, taskId: string): number {
  const sa = rankScore(a.score);
  const sb = rankScore(b.score);
  if (sa < sb) return -1;
  if (sa > sb) return 1;
  if (a.peer !== b.peer || a.round !== b.round) {
    const ha = unitHash(taskId, a.round, a.peer);
    const hb = unitHash(taskId, b.round, b.peer);
    if (ha < hb) return -1;
    if (ha > hb) return 1;
    if (a.peer < b.peer) return -1;
    if (a.peer > b.peer) return 1;
  }
  if (a.round < b.round) return -1;
  if (a.round > b.round) return 1;
  return 0;
}

/**
 * The best bid of round `round` under compareBids, or undefined when there is none.
 * Bids that compare equal (same peer, round and score) are interchangeable; the first is returned.
 */
export function selectWinner<T extends Scored>(bids: readonly T[], taskId: string, round: number): T | undefined {
  let best: T | undefined;
  for (const b of bids) {
    if (b.round !== round) continue;
    if (best === undefined || compareBids(b, best, taskId) < 0) best = b;
  }
  return best;
}

/** The bids of round `round`, only the best bid of each peer, best first. */
export function rankBids<T extends Scored>(bids: readonly T[], taskId: string, round: number): T[] {
  const perPeer = new Map<string, T>();
  for (const b of bids) {
    if (b.round !== round) continue;
    const prev = perPeer.get(b.peer);
    if (prev === undefined || compareBids(b, prev, taskId) < 0) perPeer.set(b.peer, b);
  }
  return [...perPeer.values()].sort((a, b) => compareBids(a, b, taskId));
}
