// Tests for retention.ts: which finished tasks leave the live document at a generation change.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareFinished, selectArchivable, type FinishedTask } from '../src/retention.js';

const f = (id: string, finishedAt: number, dependsOn: string[] = []): FinishedTask => ({ id, finishedAt, dependsOn });

describe('selectArchivable', () => {
  it('drops tasks past the retention before the cut', () => {
    const out = selectArchivable([f('a', 100), f('b', 5000), f('c', 9000)], [], { at: 10_000, keep: 100, retentionMs: 5000 });
    expect(out).toEqual(['a', 'b']);
  });

  it('keeps only the newest `keep` finished tasks', () => {
    const out = selectArchivable([f('a', 1), f('b', 3), f('c', 2), f('d', 3)], [], { at: 10, keep: 2, retentionMs: 1e9 });
    expect(out).toEqual(['a', 'c']); // b and d are newest (tie broken by id)
  });

  it('never drops a dependency of an unfinished task, nor its own dependencies', () => {
    const out = selectArchivable([f('a', 1), f('b', 1, ['a']), f('c', 1)], ['b'], { at: 10_000, keep: 0, retentionMs: 1 });
    expect(out).toEqual(['c']);
  });

  it('never drops a dependency of a finished task that stays', () => {
    const out = selectArchivable([f('old', 1), f('new', 9999, ['old'])], [], { at: 10_000, keep: 10, retentionMs: 100 });
    expect(out).toEqual([]);
  });

  it('is a pure function of the set (order of input does not matter), and never drops more than allowed', () => {
    const task = fc.record({ id: fc.stringMatching(/^[a-f]{1,3}$/), finishedAt: fc.integer({ min: 0, max: 1000 }) });
    fc.assert(
      fc.property(fc.uniqueArray(task, { selector: (t) => t.id, maxLength: 30 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 1200 }), (tasks, keep, retentionMs) => {
        const list = tasks.map((t) => f(t.id, t.finishedAt));
        const cut = { at: 1000, keep, retentionMs };
        const a = selectArchivable(list, [], cut);
        const b = selectArchivable([...list].reverse(), [], cut);
        expect(a).toEqual(b);
        const kept = list.filter((t) => !a.includes(t.id));
        // whatever stays is the newest ones, within the retention, at most `keep` of them
        expect(kept.length).toBeLessThanOrEqual(keep);
        for (const t of kept) expect(t.finishedAt).toBeGreaterThan(1000 - retentionMs);
        const oldestKept = [...kept].sort(compareFinished).at(-1);
        if (oldestKept) for (const d of list.filter((t) => a.includes(t.id))) expect(compareFinished(oldestKept, d) < 0 || d.finishedAt <= 1000 - retentionMs).toBe(true);
      }),
    );
  });
});
