// The text of a unit row (archive-unit-lines.ts): every task's line is found by its id, whatever
// characters the id holds, in one pass over the body; an id written twice in one unit answers with
// its later line (as when the unit's search rows are made); a line that does not start with an id
// is skipped, not misread.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ArchiveRecord } from '../src/index.js';
import { unchecked, unitBody, unitText } from '../src/archive-unit-lines.js';
import { bare, slimRecord } from './slim-records.js';

const rec = (id: string, result: unknown = 1): ArchiveRecord => ({
  id, spec: { id, type: 'echo' }, facts: {}, state: 'done', finishedAt: 2, result, peer: 'pa', attempts: 1, gen: 'g', archivedAt: 5,
});
const idOfLine = (line: string | undefined) => (unchecked(line ?? '') as unknown[] | undefined)?.[0];

describe('unit row text', () => {
  it('finds the line of every id, however it is spelt', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 20 }), (ids) => {
        const text = unitText(unitBody(ids.map((id) => rec(id))));
        expect(text.header).toEqual(['g', 5, ['pa']]);
        expect([...text.lines.keys()].sort()).toEqual([...ids].sort());
        for (const id of ids) expect(idOfLine(text.lines.get(id))).toBe(id);
      }),
    );
  });

  it('answers an id written twice with its later line, and skips lines that do not start with an id', () => {
    const body = unitBody([rec('a', 1), rec('b\\",', 2), rec('a', 3)]);
    const text = unitText(`${body}\nnot a line\n["unterminated`);
    expect((unchecked(text.lines.get('a')!) as unknown[])[5]).toBe(3);
    expect(idOfLine(text.lines.get('b\\",'))).toBe('b\\",');
    expect(text.lines.size).toBe(2);
    expect(unitText('').lines.size).toBe(0);
    expect(unitText('header only').header).toBeUndefined();
  });
});

describe('unit row lines keep batched entries slim', () => {
  // The slim form by its definition: slimRecord, then each bare reference into the line's own map
  // ('segs' for the spec, 'acts' for facts) as [batch key, index].
  const asRef = (v: unknown, map: 'segs' | 'acts') => {
    const ref = bare(v);
    return ref && ref.b === map ? [ref.k, ref.i] : undefined;
  };
  const slimLine = (rec: ArchiveRecord) => {
    const r = slimRecord(rec);
    return { spec: asRef(r.spec, 'segs') ?? r.spec, facts: Object.keys(r.facts).map((k) => asRef(r.facts[k], 'acts') ?? [k, r.facts[k]]) };
  };
  const sig = fc.oneof(
    fc.record({ b: fc.constantFrom('segs', 'acts'), k: fc.string({ maxLength: 6 }), i: fc.nat(600) }),
    fc.record({ b: fc.constantFrom('segs', 'acts'), k: fc.string({ maxLength: 6 }), i: fc.nat(600), p: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }) }),
    fc.string({ maxLength: 8 }),
  );
  const entry = fc.oneof(fc.record({ by: fc.string({ maxLength: 4 }), at: fc.nat() }), fc.record({ by: fc.string({ maxLength: 4 }), at: fc.nat(), sig }), fc.record({ sig }), fc.constant(null));

  it('holds the same spec and facts as the slim record, a reference into its own map as [batch key, index]', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 8 }), spec: entry, facts: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), entry, { maxKeys: 5 }) }), { selector: (r) => r.id, minLength: 1, maxLength: 8 }), (parts) => {
        const records = parts.map((p) => ({ ...rec(p.id), spec: p.spec, facts: p.facts }));
        const text = unitText(unitBody(records));
        for (const r of records) {
          const line = unchecked(text.lines.get(r.id)!) as unknown[];
          // As text: the line must be byte for byte what the slim record gives, key order included.
          const slim = slimLine(r);
          expect(JSON.stringify([line[6], line[7]])).toBe(JSON.stringify([slim.spec, slim.facts]));
        }
      }),
    );
  });

  it('keeps no values of an entry its sheet holds', () => {
    const body = unitBody([{ ...rec('t'), spec: { id: 't', type: 'echo', sig: { b: 'segs', k: 'b1', i: 3 } }, facts: { 't/done/1/pa': { by: 'pa', at: 9, sig: { b: 'acts', k: 'a1', i: 0 } } } }]);
    const line = unchecked(unitText(body).lines.get('t')!) as unknown[];
    expect(line[6]).toEqual(['b1', 3]);
    expect(line[7]).toEqual([['a1', 0]]);
    expect(body).not.toContain('echo');
  });
});
