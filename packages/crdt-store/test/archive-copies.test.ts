// Archival copies every archived task's spec and facts into plain objects whose JSON is the
// archive's record line, so the one-copy helpers must build exactly what the spreads they replaced
// built: the same keys in the same order with the same values (checked through JSON, which is what
// the archive keeps), and the last claim or failure picked without sorting must be the one a stable
// sort put last.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { plainWith, toPlain } from '../src/board-types.js';
import { latest } from '../src/archive-summary.js';
import { factKeyOfSeen, factsOf, newFactIndex, seenKey, addFact } from '../src/fact-index.js';
import { factKey, type FactKey } from '../src/schema.js';

const key = fc.constantFrom('id', 'type', 'assignee', 'sig', 'alsoBy', 'payload', '0', '12', 'at', 'round');
const value = fc.oneof(fc.constant(undefined), fc.integer(), fc.string(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
const object = fc.array(fc.tuple(key, value), { maxLength: 8 }).map((pairs) => {
  const o: Record<string, unknown> = {};
  for (const [k, v] of pairs) o[k] = v;
  return o;
});

describe('archival copies', () => {
  it('toPlain keeps the own defined members in order', () => {
    fc.assert(
      fc.property(object, (o) => {
        const ref: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(o)) if (x !== undefined) ref[k] = x;
        expect(JSON.stringify(toPlain(o))).toBe(JSON.stringify(ref));
        expect(Object.keys(toPlain(o))).toEqual(Object.keys(ref));
      }),
      { numRuns: 500 },
    );
  });

  it('plainWith builds what the spreads built: spec with its assignee and signature, fact without alsoBy', () => {
    fc.assert(
      fc.property(object, value, value, (o, assignee, sig) => {
        // specEntry: { ...toPlain({ ...spec, assignee }), sig }
        const spec = { ...toPlain({ ...o, assignee }), sig };
        expect(Object.keys(plainWith(o, undefined, ['assignee', assignee], ['sig', sig]))).toEqual(Object.keys(spec));
        expect(JSON.stringify(plainWith(o, undefined, ['assignee', assignee], ['sig', sig]))).toBe(JSON.stringify(spec));
        // recordOf without signatures: toPlain({ ...spec, assignee })
        expect(JSON.stringify(plainWith(o, undefined, ['assignee', assignee]))).toBe(JSON.stringify(toPlain({ ...o, assignee })));
        // rawFact: const { alsoBy, ...signed } = toPlain(value); { ...signed, sig }
        const { alsoBy: _merged, ...signed } = toPlain(o);
        const fact = { ...signed, sig };
        expect(Object.keys(plainWith(o, 'alsoBy', undefined, ['sig', sig]))).toEqual(Object.keys(fact));
        expect(JSON.stringify(plainWith(o, 'alsoBy', undefined, ['sig', sig]))).toBe(JSON.stringify(fact));
      }),
      { numRuns: 1000 },
    );
  });

  it("a fact's key is its task id, a slash and its index key (what archival builds instead of parsing)", () => {
    const fk: fc.Arbitrary<FactKey> = fc.oneof(
      fc.record({ task: fc.string({ minLength: 1 }), kind: fc.constantFrom('bid', 'claim', 'done', 'fail', 'progress', 'vote'), round: fc.integer({ min: 1, max: 1e6 }), peer: fc.string({ minLength: 1 }) }) as fc.Arbitrary<FactKey>,
      fc.record({ task: fc.string({ minLength: 1 }), kind: fc.constantFrom('expire', 'retry'), round: fc.integer({ min: 1, max: 1e6 }) }) as fc.Arbitrary<FactKey>,
      fc.record({ task: fc.string({ minLength: 1 }), kind: fc.constant('cancel') }) as fc.Arbitrary<FactKey>,
    );
    fc.assert(
      fc.property(fk, (k) => {
        expect(factKeyOfSeen(k.task, seenKey(k))).toBe(factKey(k));
        // And the index's own reading of its keys agrees.
        const idx = newFactIndex();
        addFact(idx, k, { kind: 'cancel', value: { by: 'p', at: 1 } } as never, 0);
        const [[back]] = [...factsOf(k.task, idx)];
        expect(factKey(back!)).toBe(factKey(k));
      }),
      { numRuns: 1000 },
    );
  });

  it('latest is the last element of a stable sort by (round, at)', () => {
    const entry = fc.record({ round: fc.integer({ min: 1, max: 4 }), at: fc.integer({ min: 0, max: 5 }), tag: fc.nat() });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a.round - b.round || a.at - b.at);
        expect(latest(xs)).toBe(sorted.at(-1));
      }),
      { numRuns: 1000 },
    );
  });
});
