// Anti-herding shortlist. Load figures in replicas are stale, so if every peer sent every task to
// "the least loaded" peer, that peer would be swamped before its new load replicated. Instead each
// task gets a small capacity-weighted shortlist of peers (weighted rendezvous hashing), and only
// those bid; load then decides among a few, and the shortlists spread tasks in proportion to capacity.
import { unitHash } from './hash.js';

/**
 * Weighted rendezvous score of a peer for a task round; lower is better.
 * -ln(u) / weight with u = unitHash(taskId, round, peerId) in (0, 1), so the minimum over peers
 * falls on each peer with probability weight / sum of weights. Weight <= 0 or non-finite => Infinity.
 */
export function rendezvousScore(taskId: string, round: number, peerId: string, weight: number): number {
  if (!(weight > 0) || !Number.isFinite(weight)) return Infinity;
  return -Math.log(unitHash(taskId, round, peerId)) / weight;
}

/**
 * The ids of the k candidates with the lowest rendezvous score (weight = capacity), best first,
 * ties broken by id. An id listed more than once counts once (with its best score), so the result
 * does not depend on the order or duplication of candidates. Candidates with capacity <= 0 or a
 * non-finite capacity are never listed. k <= 0 => [].
 */
export function shortlist(
  taskId: string,
  round: number,
  candidates: readonly { id: string; capacity: number }[],
  k: number,
): string[] {
  if (!(k >= 1)) return [];
  const best = new Map<string, number>();
  for (const c of candidates) {
    const s = rendezvousScore(taskId, round, c.id, c.capacity);
    if (s === Infinity) continue;
    const prev = best.get(c.id);
    if (prev === undefined || s < prev) best.set(c.id, s);
  }
  const ranked = [...best].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const n = Math.min(ranked.length, Math.floor(k));
  const out: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = (ranked[i] as [string, number])[0];
  return out;
}
