// Tests for strategies.ts: validation helpers, capability checks and the exact score formulas.
// (The cross-strategy properties and the load-share model live in shares.test.ts.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMeshError } from '../src/errors.js';
import {
  DEFAULT_WEIGHTS,
  bidScore,
  canRun,
  capabilityMatch,
  isStrategyName,
  makeBid,
  validateWeights,
} from '../src/strategies.js';
import { unitHash } from '../src/hash.js';
import { STRATEGY_NAMES } from '../src/types.js';
import type { BidderState, TaskSpec } from '../src/types.js';

function spec(over: Partial<TaskSpec> = {}): TaskSpec {
  return {
    id: 't1', type: 'echo', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [],
    maxAttempts: 3, timeoutMs: 0, createdAt: 0, createdBy: 'p0', notBefore: 0, strategy: 'capacity-weighted',
    ...over,
  };
}

function bidder(over: Partial<BidderState> = {}): BidderState {
  return { id: 'p1', capabilities: ['echo'], capacity: 10, concurrency: 4, load: 2, ...over };
}

const opts = { round: 1, seed: 7 };

describe('validateWeights', () => {
  it('accepts three finite numbers >= 0 and returns a clean copy', () => {
    expect(DEFAULT_WEIGHTS).toEqual({ time: 1, load: 0.5, match: 0.5 });
    expect(validateWeights({ time: 0, load: 2, match: 0.1, extra: 'x' })).toEqual({ time: 0, load: 2, match: 0.1 });
    expect(validateWeights(DEFAULT_WEIGHTS)).not.toBe(DEFAULT_WEIGHTS);
  });

  it('rejects anything else with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      null, 1, 'x', {}, { time: 1, load: 1 }, { time: -1, load: 0, match: 0 }, { time: NaN, load: 0, match: 0 },
      { time: 1, load: Infinity, match: 0 }, { time: 1, load: 0, match: '1' },
    ];
    for (const w of bad) {
      expect(() => validateWeights(w)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('isStrategyName', () => {
  it('knows exactly the five names', () => {
    for (const s of STRATEGY_NAMES) expect(isStrategyName(s)).toBe(true);
    for (const x of ['', 'Random', 'least_load', 'toString', null, 3, undefined]) expect(isStrategyName(x)).toBe(false);
  });
});

describe('canRun / capabilityMatch', () => {
  it('needs the task type and every required capability', () => {
    expect(canRun({ type: 'echo', requires: [] }, ['echo'])).toBe(true);
    expect(canRun({ type: 'echo', requires: [] }, ['gpu'])).toBe(false);
    expect(canRun({ type: 'echo', requires: ['gpu', 'net'] }, ['net', 'echo', 'gpu'])).toBe(true);
    expect(canRun({ type: 'echo', requires: ['gpu', 'net'] }, ['echo', 'gpu'])).toBe(false);
  });

  it('is the fraction of distinct preferred capabilities held, 1 when none preferred', () => {
    expect(capabilityMatch([], [])).toBe(1);
    expect(capabilityMatch(['a', 'b'], ['a'])).toBe(0.5);
    expect(capabilityMatch(['a', 'a', 'b'], ['a'])).toBe(0.5);
    expect(capabilityMatch(['a', 'b', 'c', 'd'], ['d', 'c', 'b', 'a', 'e'])).toBe(1);
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd')), fc.array(fc.constantFrom('a', 'b', 'c', 'd')), (p, c) => {
        const m = capabilityMatch(p, c);
        expect(m >= 0 && m <= 1).toBe(true);
      }),
    );
  });
});

describe('bidScore formulas', () => {
  it('computes each strategy as specified', () => {
    const s = spec({ prefers: ['gpu', 'ssd'] });
    const b = bidder({ capabilities: ['echo', 'gpu'], capacity: 8, concurrency: 3, load: 5 });
    expect(bidScore('random', s, b, opts)).toBe(unitHash(7, 't1', 1, 'p1'));
    expect(bidScore('least-load', s, b, opts)).toBe(5);
    expect(bidScore('max-capacity', s, b, opts)).toBeCloseTo(-8 + (5 / 4) * 1e-6, 12);
    expect(bidScore('capacity-weighted', s, b, opts)).toBe(6 / 8);
    expect(bidScore('multi-objective', s, b, opts)).toBeCloseTo(1 * (6 / 8) + 0.5 * (5 / 3) + 0.5 * 0.5, 12);
    const w = { time: 2, load: 0, match: 1 };
    expect(bidScore('multi-objective', s, b, { ...opts, weights: w })).toBeCloseTo(2 * (6 / 8) + 0.5, 12);
    // concurrency below 1 counts as 1 in the utilisation term
    expect(bidScore('multi-objective', spec(), bidder({ concurrency: 0, load: 3, capacity: 1 }), opts)).toBeCloseTo(4 + 1.5, 12);
  });

  it('returns Number.MAX_VALUE for capacity <= 0 or non-finite numbers', () => {
    for (const over of [
      { capacity: 0 }, { capacity: -5 }, { capacity: NaN }, { capacity: Infinity }, { load: NaN }, { load: Infinity },
      { concurrency: NaN },
    ]) {
      for (const st of STRATEGY_NAMES) expect(bidScore(st, spec(), bidder(over), opts)).toBe(Number.MAX_VALUE);
    }
  });

  it('is always a finite number', () => {
    const num = fc.oneof(fc.double(), fc.constantFrom(0, -0, 1e-300, 1e300, -1));
    fc.assert(
      fc.property(fc.constantFrom(...STRATEGY_NAMES), num, num, num, fc.integer(), fc.integer(), (st, capacity, load, concurrency, round, seed) => {
        const score = bidScore(st, spec(), bidder({ capacity, load, concurrency }), { round, seed });
        expect(Number.isFinite(score)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects an unknown strategy name', () => {
    expect(() => bidScore('fastest' as never, spec(), bidder(), opts)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('makeBid', () => {
  it('builds a bid from the bidder state', () => {
    const b = bidder({ load: 3, capacity: 12 });
    expect(makeBid('capacity-weighted', spec(), b, { round: 2, at: 1234, seed: 1 })).toEqual({
      peer: 'p1', round: 2, score: 4 / 12, load: 3, capacity: 12, at: 1234,
    });
  });

  it('returns null for a peer that cannot run the task or has no capacity', () => {
    const o = { round: 1, at: 0, seed: 1 };
    expect(makeBid('random', spec({ requires: ['gpu'] }), bidder(), o)).toBeNull();
    expect(makeBid('random', spec({ type: 'other' }), bidder(), o)).toBeNull();
    expect(makeBid('random', spec(), bidder({ capacity: 0 }), o)).toBeNull();
    expect(makeBid('random', spec(), bidder({ capacity: -1 }), o)).toBeNull();
    expect(makeBid('random', spec(), bidder({ capacity: NaN }), o)).toBeNull();
    expect(makeBid('random', spec(), bidder({ load: NaN }), o)).toBeNull();
  });

  it('throws MeshError only for an unknown strategy', () => {
    try {
      makeBid('nope' as never, spec(), bidder(), { round: 1, at: 0, seed: 1 });
      expect.unreachable();
    } catch (e) {
      expect(isMeshError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
