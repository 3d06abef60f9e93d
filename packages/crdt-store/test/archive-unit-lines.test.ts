// The text of a unit row (archive-unit-lines.ts): every task's line is found by its id, whatever
// characters the id holds, in one pass over the body; an id written twice in one unit answers with
// its later line (as when the unit's search rows are made); a line that does not start with an id
// is skipped, not misread.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ArchiveRecord } from '../src/index.js';
import { unchecked, unitBody, unitText } from '../src/archive-unit-lines.js';

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
