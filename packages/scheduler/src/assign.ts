// Who runs round 1 of each task of a batch, decided once by the batch's creator and written into the
// document with the batch, so an uncontested first round needs no bids at all (one fact for many
// tasks instead of a bid, a claim window and a claim per task). The creator takes what it can start
// at once itself; the rest goes slice by slice to a capacity-weighted rendezvous winner, skipping
// peers with no room left while some eligible peer has room (load-aware without herding: the order
// of peers is a hash per slice, so stale load figures cannot send every slice to one peer).
// Pure: the same inputs give the same assignment.

import { rendezvousScore } from './rendezvous.js';
import { canRun } from './strategies.js';
import type { TaskSpec } from './types.js';

export interface AssignCandidate {
  id: string;
  /** Tasks per second (the rendezvous weight). */
  capacity: number;
  capabilities: readonly string[];
  /** Tasks it can take before it counts as full (free slots, or seconds of queue left times capacity). */
  room: number;
}

export interface AssignOptions {
  /** The batch's key: slices hash with it, so different batches spread differently. */
  key: string;
  /** Tasks per slice (consecutive tasks of one slice go to one peer when they can). Default 16. */
  slice?: number;
  /** The creator: it takes tasks first, up to its room. */
  self?: string;
}

/** Tasks that are bid on instead of assigned: exclusive ones (quorum), delayed ones, and ones with dependencies. */
export function assignable(spec: Pick<TaskSpec, 'exclusive' | 'dependsOn' | 'notBefore' | 'createdAt'>): boolean {
  return spec.exclusive !== true && spec.dependsOn.length === 0 && !(spec.notBefore > spec.createdAt);
}

/**
 * The assignee of each spec (undefined: not assigned, bid on as usual). Candidates with a
 * non-positive or non-finite capacity are never chosen; a candidate listed twice counts once.
 */
export function assignTasks(specs: readonly Pick<TaskSpec, 'type' | 'requires' | 'exclusive' | 'dependsOn' | 'notBefore' | 'createdAt'>[], candidates: readonly AssignCandidate[], opts: AssignOptions): (string | undefined)[] {
  const slice = Math.max(1, Math.floor(opts.slice ?? 16));
  const peers = new Map<string, AssignCandidate & { left: number }>();
  for (const c of candidates) {
    if (!(c.capacity > 0) || !Number.isFinite(c.capacity) || peers.has(c.id)) continue;
    peers.set(c.id, { ...c, left: Math.max(0, Math.floor(c.room)) });
  }
  const self = opts.self === undefined ? undefined : peers.get(opts.self);
  const out: (string | undefined)[] = new Array(specs.length).fill(undefined);
  // Rendezvous order of the peers for each slice, computed when first needed.
  const orders = new Map<number, (AssignCandidate & { left: number })[]>();
  const orderOf = (s: number) => {
    let order = orders.get(s);
    if (!order) {
      const key = `${opts.key}/${s}`;
      order = [...peers.values()]
        .map((p) => ({ p, score: rendezvousScore(key, 1, p.id, p.capacity) }))
        .sort((a, b) => a.score - b.score || (a.p.id < b.p.id ? -1 : a.p.id > b.p.id ? 1 : 0))
        .map((x) => x.p);
      orders.set(s, order);
    }
    return order;
  };
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    if (!assignable(spec)) continue;
    if (self && self.left > 0 && canRun(spec, self.capabilities)) {
      self.left--;
      out[i] = self.id;
      continue;
    }
    const order = orderOf(Math.floor(i / slice));
    let first: (AssignCandidate & { left: number }) | undefined;
    let chosen: (AssignCandidate & { left: number }) | undefined;
    for (const p of order) {
      if (!canRun(spec, p.capabilities)) continue;
      first ??= p;
      if (p.left > 0) {
        chosen = p;
        break;
      }
    }
    chosen ??= first;
    if (!chosen) continue;
    chosen.left--;
    out[i] = chosen.id;
  }
  return out;
}
