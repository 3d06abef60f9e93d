// The compact id map of the file archive (archive-id-map.ts) behaves as a Map of ids: batch-like
// ids (`<prefix>.<n>`) and any other id, set, overwritten, deleted and listed in any order. (What it
// saves is measured by bench:bounded, a peer's RSS at the end.)
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CompactIdMap } from '../src/archive-id-map.js';

const ids = fc.oneof(
  fc.tuple(fc.constantFrom('k1', 'b.x', 'seg-9', ''), fc.nat(120_000)).map(([p, n]) => `${p}.${n}`),
  fc.constantFrom('a.05', 'a.', '.5', 'a.5x', 'plain', 'a.-1', 'a.1.2', 'k1.00', 'k1.0'),
  fc.string({ maxLength: 6 }),
);
const ops = fc.array(fc.tuple(fc.constantFrom('set', 'delete'), ids, fc.integer()), { maxLength: 200 });

describe('compact id map', () => {
  it('answers as a Map does, whatever ids and operations', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const m = new CompactIdMap<number>();
        const ref = new Map<string, number>();
        for (const [op, id, v] of list) {
          if (op === 'set') {
            m.set(id, v);
            ref.set(id, v);
          } else expect(m.delete(id)).toBe(ref.delete(id));
          expect(m.get(id)).toBe(ref.get(id));
          expect(m.has(id)).toBe(ref.has(id));
        }
        expect(m.size).toBe(ref.size);
        expect(new Map(m.entries())).toEqual(ref);
      }),
      { seed: 1205, numRuns: 300 },
    );
  });
});
