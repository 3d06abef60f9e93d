// Tests for rendezvous.ts: weighted rendezvous scores, and that shortlists are order-free,
// capacity-proportional and minimally disrupted when a peer joins.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unitHash } from '../src/hash.js';
import { createRng } from '../src/hash.js';
import { rendezvousScore, shortlist } from '../src/rendezvous.js';

const peers = [
  { id: 'a', capacity: 10 },
  { id: 'b', capacity: 20 },
  { id: 'c', capacity: 30 },
];

describe('rendezvousScore', () => {
  it('is -ln(unitHash) / weight, positive and finite for positive weights', () => {
    expect(rendezvousScore('t', 1, 'p', 2)).toBe(-Math.log(unitHash('t', 1, 'p')) / 2);
    expect(rendezvousScore('t', 1, 'p', 1)).toBe(2 * rendezvousScore('t', 1, 'p', 2));
    fc.assert(
      fc.property(fc.string(), fc.integer(), fc.string(), fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (t, r, p, w) => {
        const s = rendezvousScore(t, r, p, w);
        expect(Number.isFinite(s) && s > 0).toBe(true);
      }),
    );
  });

  it('is Infinity for weight <= 0 or non-finite', () => {
    for (const w of [0, -0, -1, NaN, Infinity, -Infinity]) expect(rendezvousScore('t', 1, 'p', w)).toBe(Infinity);
  });
});

describe('shortlist', () => {
  it('returns k ids, best first, and [] for k <= 0', () => {
    expect(shortlist('t', 1, peers, 0)).toEqual([]);
    expect(shortlist('t', 1, peers, -2)).toEqual([]);
    expect(shortlist('t', 1, peers, NaN)).toEqual([]);
    expect(shortlist('t', 1, [], 3)).toEqual([]);
    const all = shortlist('t', 1, peers, 10);
    expect(all.slice().sort()).toEqual(['a', 'b', 'c']);
    const scores = all.map((id) => rendezvousScore('t', 1, id, peers.find((p) => p.id === id)!.capacity));
    expect(scores).toEqual(scores.slice().sort((x, y) => x - y));
    expect(shortlist('t', 1, peers, 2)).toEqual(all.slice(0, 2));
    expect(shortlist('t', 1, peers, 1.7)).toEqual(all.slice(0, 1));
  });

  it('never lists peers without capacity', () => {
    const withDead = [...peers, { id: 'z', capacity: 0 }, { id: 'y', capacity: -3 }, { id: 'x', capacity: NaN }];
    for (let i = 0; i < 200; i++) expect(shortlist(`t${i}`, 1, withDead, 10).sort()).toEqual(['a', 'b', 'c']);
  });

  it('does not depend on the order or duplication of candidates', () => {
    const cand = fc.record({ id: fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6'), capacity: fc.integer({ min: 1, max: 50 }) });
    fc.assert(
      fc.property(
        fc.uniqueArray(cand, { selector: (c) => c.id, minLength: 1 }),
        fc.string(),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 7 }),
        fc.nat(),
        (cands, taskId, round, k, seed) => {
          const rng = createRng(seed);
          const noisy = rng.shuffle([...cands, ...cands.filter(() => rng.chance(0.5))]);
          expect(shortlist(taskId, round, noisy, k)).toEqual(shortlist(taskId, round, cands, k));
        },
      ),
    );
  });

  it('uses the best score when one id appears with different capacities', () => {
    for (let i = 0; i < 100; i++) {
      const t = `t${i}`;
      const a = shortlist(t, 1, [{ id: 'a', capacity: 5 }, { id: 'b', capacity: 10 }, { id: 'a', capacity: 50 }], 1);
      const b = shortlist(t, 1, [{ id: 'a', capacity: 50 }, { id: 'b', capacity: 10 }, { id: 'a', capacity: 5 }], 1);
      const c = shortlist(t, 1, [{ id: 'a', capacity: 50 }, { id: 'b', capacity: 10 }], 1);
      expect(a).toEqual(c);
      expect(b).toEqual(c);
    }
  });

  it('gives each peer top-1 in proportion to its capacity (10/20/30 over 30,000 ids)', () => {
    const wins: Record<string, number> = { a: 0, b: 0, c: 0 };
    const n = 30_000;
    for (let i = 0; i < n; i++) wins[shortlist(`task-${i}`, 1, peers, 1)[0]!]!++;
    expect(Math.abs(wins['a']! / n - 1 / 6)).toBeLessThan(0.015);
    expect(Math.abs(wins['b']! / n - 2 / 6)).toBeLessThan(0.015);
    expect(Math.abs(wins['c']! / n - 3 / 6)).toBeLessThan(0.015);
  });

  it('changes round by round', () => {
    let moved = 0;
    for (let i = 0; i < 1000; i++) if (shortlist(`t${i}`, 1, peers, 1)[0] !== shortlist(`t${i}`, 2, peers, 1)[0]) moved++;
    expect(moved).toBeGreaterThan(300);
  });

  it('moves tasks only to a newly joined peer (minimal disruption)', () => {
    const joined = [...peers, { id: 'd', capacity: 20 }];
    let toNew = 0;
    for (let i = 0; i < 5000; i++) {
      const before = shortlist(`t${i}`, 1, peers, 1)[0];
      const after = shortlist(`t${i}`, 1, joined, 1)[0];
      if (after !== before) {
        expect(after).toBe('d');
        toNew++;
      }
    }
    expect(Math.abs(toNew / 5000 - 20 / 80)).toBeLessThan(0.03);
  });
});
