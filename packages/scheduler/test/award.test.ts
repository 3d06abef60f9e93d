// Tests for award.ts: compareBids is a total order, and the winner is a function of the set of
// bids only (never of their order or duplication), so every replica awards the same peer.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBids, rankBids, selectWinner } from '../src/award.js';
import type { Scored } from '../src/award.js';
import { createRng, unitHash } from '../src/hash.js';

type B = Scored & { at: number };

const peerArb = fc.constantFrom('p1', 'p2', 'p3', 'p10', 'Z', 'a');
const scoreArb = fc.oneof(
  fc.constantFrom(0, -0, 1, 0.5, 2, NaN, Infinity, -Infinity, Number.MAX_VALUE),
  fc.double(),
);
const bidArb: fc.Arbitrary<B> = fc.record({ peer: peerArb, round: fc.integer({ min: 1, max: 3 }), score: scoreArb, at: fc.nat() });
const taskArb = fc.string({ maxLength: 8 });

/** A reordered copy with random duplicates. */
function scramble<T>(xs: readonly T[], seed: number): T[] {
  const rng = createRng(seed);
  const extra = xs.filter(() => rng.chance(0.4));
  return rng.shuffle([...xs, ...extra]);
}

const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

describe('compareBids', () => {
  it('orders by score, treating non-finite scores as +Infinity', () => {
    const t = 'task';
    expect(compareBids({ peer: 'a', round: 1, score: 1 }, { peer: 'b', round: 1, score: 2 }, t)).toBe(-1);
    expect(compareBids({ peer: 'a', round: 1, score: 3 }, { peer: 'b', round: 1, score: 2 }, t)).toBe(1);
    expect(compareBids({ peer: 'a', round: 1, score: Number.MAX_VALUE }, { peer: 'b', round: 1, score: NaN }, t)).toBe(-1);
    expect(compareBids({ peer: 'a', round: 1, score: 1e9 }, { peer: 'b', round: 1, score: -Infinity }, t)).toBe(-1);
    // NaN, Infinity and -Infinity tie on score; the hash decides.
    const x = { peer: 'a', round: 1, score: NaN };
    const y = { peer: 'b', round: 1, score: -Infinity };
    expect(compareBids(x, y, t)).toBe(unitHash(t, 1, 'a') < unitHash(t, 1, 'b') ? -1 : 1);
    expect(compareBids(x, { ...x, score: Infinity }, t)).toBe(0);
  });

  it('breaks equal scores by unitHash(taskId, round, peer), not by peer name', () => {
    let aFirst = 0;
    for (let i = 0; i < 2000; i++) {
      const t = `t${i}`;
      const c = compareBids({ peer: 'a', round: 1, score: 1 }, { peer: 'b', round: 1, score: 1 }, t);
      expect(c).toBe(unitHash(t, 1, 'a') < unitHash(t, 1, 'b') ? -1 : 1);
      if (c < 0) aFirst++;
    }
    expect(Math.abs(aFirst / 2000 - 0.5)).toBeLessThan(0.05);
  });

  it('is reflexive, antisymmetric and transitive', () => {
    fc.assert(
      fc.property(bidArb, bidArb, bidArb, taskArb, (a, b, c, t) => {
        expect(compareBids(a, a, t)).toBe(0);
        expect(sign(compareBids(a, b, t)) + sign(compareBids(b, a, t))).toBe(0);
        if (compareBids(a, b, t) <= 0 && compareBids(b, c, t) <= 0) expect(compareBids(a, c, t)).toBeLessThanOrEqual(0);
        if (compareBids(a, b, t) === 0) expect(sign(compareBids(a, c, t))).toBe(sign(compareBids(b, c, t)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is 0 only for the same peer, round and (ranked) score', () => {
    fc.assert(
      fc.property(bidArb, bidArb, taskArb, (a, b, t) => {
        if (compareBids(a, b, t) === 0) {
          expect(a.peer).toBe(b.peer);
          expect(a.round).toBe(b.round);
          const rs = (s: number): number => (Number.isFinite(s) ? s : Infinity);
          expect(rs(a.score) === rs(b.score)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('selectWinner', () => {
  it('is the minimum of the round, undefined when the round has no bids', () => {
    const bids: B[] = [
      { peer: 'p1', round: 1, score: 3, at: 0 },
      { peer: 'p2', round: 1, score: 1, at: 0 },
      { peer: 'p3', round: 2, score: 0, at: 0 },
    ];
    expect(selectWinner(bids, 't', 1)?.peer).toBe('p2');
    expect(selectWinner(bids, 't', 2)?.peer).toBe('p3');
    expect(selectWinner(bids, 't', 3)).toBeUndefined();
    expect(selectWinner([], 't', 1)).toBeUndefined();
  });

  it('does not depend on the order or duplication of bids', () => {
    fc.assert(
      fc.property(fc.array(bidArb, { maxLength: 12 }), taskArb, fc.integer({ min: 1, max: 3 }), fc.nat(), (bids, t, round, seed) => {
        const w1 = selectWinner(bids, t, round);
        const w2 = selectWinner(scramble(bids, seed), t, round);
        if (w1 === undefined) {
          expect(w2).toBeUndefined();
        } else {
          expect(w2).toBeDefined();
          expect(compareBids(w1, w2!, t)).toBe(0); // same peer, round and ranked score
          expect(w1.round).toBe(round);
          for (const b of bids) if (b.round === round) expect(compareBids(w1, b, t)).toBeLessThanOrEqual(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('picks the very same bid for any order when each peer bids once per round', () => {
    const oneBidEach = fc.uniqueArray(bidArb, { selector: (b) => `${b.peer}|${b.round}`, maxLength: 12 });
    fc.assert(
      fc.property(oneBidEach, taskArb, fc.integer({ min: 1, max: 3 }), fc.nat(), (bids, t, round, seed) => {
        expect(selectWinner(scramble(bids, seed), t, round)).toBe(selectWinner(bids, t, round));
      }),
      { numRuns: 1000 },
    );
  });

  it('with all scores equal, the winner is the lowest hash whatever the order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(peerArb, { minLength: 1 }), taskArb, fc.nat(), (ps, t, seed) => {
        const bids = ps.map((peer) => ({ peer, round: 1, score: 0.25, at: 0 }));
        const expected = ps.slice().sort((a, b) => unitHash(t, 1, a) - unitHash(t, 1, b))[0];
        expect(selectWinner(scramble(bids, seed), t, 1)?.peer).toBe(expected);
      }),
    );
  });

  it('spreads equal-score wins fairly across peers', () => {
    const wins = new Map<string, number>();
    const ps = ['p1', 'p2', 'p3', 'p4'];
    for (let i = 0; i < 20_000; i++) {
      const w = selectWinner(ps.map((peer) => ({ peer, round: 1, score: 1 })), `t${i}`, 1)!;
      wins.set(w.peer, (wins.get(w.peer) ?? 0) + 1);
    }
    for (const p of ps) expect(Math.abs((wins.get(p) ?? 0) / 20_000 - 0.25)).toBeLessThan(0.02);
  });
});

describe('rankBids', () => {
  it('keeps the best bid per peer of the round, sorted, led by the winner', () => {
    fc.assert(
      fc.property(fc.array(bidArb, { maxLength: 12 }), taskArb, fc.integer({ min: 1, max: 3 }), fc.nat(), (bids, t, round, seed) => {
        const ranked = rankBids(bids, t, round);
        expect(new Set(ranked.map((b) => b.peer)).size).toBe(ranked.length);
        expect(ranked.every((b) => b.round === round)).toBe(true);
        expect(new Set(ranked.map((b) => b.peer))).toEqual(new Set(bids.filter((b) => b.round === round).map((b) => b.peer)));
        for (let i = 1; i < ranked.length; i++) expect(compareBids(ranked[i - 1]!, ranked[i]!, t)).toBeLessThan(0);
        for (const r of ranked) {
          for (const b of bids) if (b.round === round && b.peer === r.peer) expect(compareBids(r, b, t)).toBeLessThanOrEqual(0);
        }
        const w = selectWinner(bids, t, round);
        if (w) expect(compareBids(ranked[0]!, w, t)).toBe(0);
        else expect(ranked).toEqual([]);
        const again = rankBids(scramble(bids, seed), t, round);
        expect(again.length).toBe(ranked.length);
        again.forEach((b, i) => expect(compareBids(b, ranked[i]!, t)).toBe(0));
      }),
      { numRuns: 1000 },
    );
  });
});
