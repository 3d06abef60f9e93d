// Bidding strategies: how a peer turns its own state into a score for a task (lower is better).
// Scores are pure functions of the spec, the bidder's state and a seed, so any peer can
// recompute and check any bid, and the award rule (award.ts) only compares numbers.
import { MeshError } from './errors.js';
import { unitHash } from './hash.js';
import { STRATEGY_NAMES } from './types.js';
import type { Bid, BidderState, ObjectiveWeights, StrategyName, TaskSpec } from './types.js';

export const DEFAULT_WEIGHTS: ObjectiveWeights = Object.freeze({ time: 1, load: 0.5, match: 0.5 });

/** Checks multi-objective weights: time, load and match must be finite numbers >= 0. */
export function validateWeights(w: unknown): ObjectiveWeights {
  if (typeof w !== 'object' || w === null) {
    throw new MeshError('INVALID_ARGUMENT', 'weights must be an object { time, load, match }');
  }
  const r = w as Record<string, unknown>;
  const out = { time: r['time'], load: r['load'], match: r['match'] };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new MeshError('INVALID_ARGUMENT', `weight "${k}" must be a finite number >= 0, got ${String(v)}`, { weight: k });
    }
  }
  return out as ObjectiveWeights;
}

export function isStrategyName(x: unknown): x is StrategyName {
  return typeof x === 'string' && (STRATEGY_NAMES as readonly string[]).includes(x);
}

/** True iff the capabilities include the task type and every required capability. */
export function canRun(spec: Pick<TaskSpec, 'type' | 'requires'>, capabilities: readonly string[]): boolean {
  if (!capabilities.includes(spec.type)) return false;
  for (const r of spec.requires) if (!capabilities.includes(r)) return false;
  return true;
}

/** Fraction in [0, 1] of the distinct preferred capabilities held; 1 when nothing is preferred. */
export function capabilityMatch(prefers: readonly string[], capabilities: readonly string[]): number {
  let asked = 0;
  let held = 0;
  for (let i = 0; i < prefers.length; i++) {
    const p = prefers[i] as string;
    if (prefers.indexOf(p) !== i) continue; // count each distinct capability once
    asked++;
    if (capabilities.includes(p)) held++;
  }
  return asked === 0 ? 1 : held / asked;
}

export interface BidOptions {
  round: number;
  /** Bidder's clock, copied into the bid. */
  at: number;
  seed: number;
  weights?: ObjectiveWeights;
}

/** A bidder whose numbers make no sense (capacity <= 0, NaN, Infinity) cannot bid. */
function eligibleNumbers(b: BidderState): boolean {
  return b.capacity > 0 && Number.isFinite(b.capacity) && Number.isFinite(b.load) && Number.isFinite(b.concurrency);
}

/**
 * The bidder's score for the task under `strategy`; LOWER IS BETTER and always finite.
 * Ineligible numbers (capacity <= 0, non-finite load/capacity/concurrency) give Number.MAX_VALUE.
 * A negative load is treated as 0 and a negative concurrency as 0.
 */
export function bidScore(
  strategy: StrategyName,
  spec: TaskSpec,
  bidder: BidderState,
  opts: { round: number; seed: number; weights?: ObjectiveWeights },
): number {
  if (!eligibleNumbers(bidder)) return Number.MAX_VALUE;
  const load = Math.max(0, bidder.load);
  const cap = bidder.capacity;
  const conc = Math.max(0, bidder.concurrency);
  let s: number;
  switch (strategy) {
    case 'random':
      s = unitHash(opts.seed, spec.id, opts.round, bidder.id);
      break;
    case 'least-load':
      s = load;
      break;
    case 'max-capacity':
      s = -cap + (load / (conc + 1)) * 1e-6;
      break;
    case 'capacity-weighted':
      s = (load + 1) / cap;
      break;
    case 'multi-objective': {
      const w = opts.weights ?? DEFAULT_WEIGHTS;
      s =
        w.time * ((load + 1) / cap) +
        w.load * (load / Math.max(1, conc)) +
        w.match * (1 - capabilityMatch(spec.prefers, bidder.capabilities));
      break;
    }
    default:
      throw new MeshError('INVALID_ARGUMENT', `unknown strategy ${JSON.stringify(strategy as unknown)}`);
  }
  return Number.isFinite(s) ? s : Number.MAX_VALUE;
}

/**
 * The bidder's bid for round `opts.round`, or null when it cannot run the task
 * (missing capabilities) or its numbers make it ineligible (capacity <= 0 or non-finite state).
 */
export function makeBid(strategy: StrategyName, spec: TaskSpec, bidder: BidderState, opts: BidOptions): Bid | null {
  if (!eligibleNumbers(bidder) || !canRun(spec, bidder.capabilities)) return null;
  return {
    peer: bidder.id,
    round: opts.round,
    score: bidScore(strategy, spec, bidder, opts),
    load: bidder.load,
    capacity: bidder.capacity,
    at: opts.at,
  };
}
