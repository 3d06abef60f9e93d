// RecentMap (the archive's small caches of unit bodies and decoded sheets): it keeps exactly the
// `max` most recently used entries, against a plain list kept in use order.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RecentMap } from '../src/recent-map.js';

describe('RecentMap', () => {
  it('keeps the most recently used entries, up to its size', () => {
    const m = new RecentMap<string, number>(2);
    m.set('a', 1).set('b', 2);
    expect(m.get('a')).toBe(1); // a is now newer than b
    m.set('c', 3);
    expect([...m.keys()]).toEqual(['a', 'c']);
    expect(m.get('b')).toBeUndefined();
    m.set('a', 10);
    m.set('d', 4);
    expect([...m.entries()]).toEqual([['a', 10], ['d', 4]]);
  });

  it('answers as a list kept in use order would (any sequence of gets and sets)', () => {
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 6 }), fc.integer());
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const m = new RecentMap<number, number>(max);
        let model: [number, number][] = [];
        for (const [isSet, k, v] of ops) {
          const at = model.findIndex(([key]) => key === k);
          if (isSet) {
            if (at >= 0) model.splice(at, 1);
            model.push([k, v]);
            if (model.length > max) model.shift();
            m.set(k, v);
          } else {
            const want = at >= 0 ? model[at]![1] : undefined;
            if (at >= 0) model.push(model.splice(at, 1)[0]!);
            expect(m.get(k)).toBe(want);
          }
          expect([...m.entries()]).toEqual(model);
        }
      }),
    );
  });
});
