// Tests for retention.ts: which finished tasks leave the live document at a generation change.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareFinished, selectArchivable, selectFirst, type FinishedTask, type RetentionCut } from '../src/retention.js';

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

  it('gives what selecting by a full sort gives (the reference it replaced), dependencies and all', () => {
    const reference = (finished: readonly FinishedTask[], liveDeps: string[], cut: RetentionCut): string[] => {
      const sorted = [...finished].sort(compareFinished);
      const byId = new Map(sorted.map((f) => [f.id, f]));
      const drop = new Set<string>();
      sorted.forEach((f, i) => {
        if (i >= cut.keep || f.finishedAt <= cut.at - cut.retentionMs) drop.add(f.id);
      });
      const stack = [...liveDeps];
      for (const f of sorted) if (!drop.has(f.id)) stack.push(...f.dependsOn);
      while (stack.length > 0) {
        const id = stack.pop()!;
        if (!drop.delete(id)) continue;
        stack.push(...(byId.get(id)?.dependsOn ?? []));
      }
      return [...drop].sort();
    };
    const id = fc.stringMatching(/^[a-h]{1,2}$/);
    const task = fc.record({ id, finishedAt: fc.integer({ min: 0, max: 50 }), dependsOn: fc.array(id, { maxLength: 2 }) });
    fc.assert(
      fc.property(fc.uniqueArray(task, { selector: (t) => t.id, maxLength: 60 }), fc.array(id, { maxLength: 3 }), fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 60 }), (tasks, live, keep, retentionMs) => {
        const cut = { at: 50, keep, retentionMs };
        expect(selectArchivable(tasks, live, cut)).toEqual(reference(tasks, live, cut));
      }),
      { numRuns: 500 },
    );
  });

  it('selectFirst puts the k-th element of the sorted order at k, none later before it, none earlier after it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 80 }), fc.nat(), (xs, k0) => {
        const k = k0 % xs.length;
        const a = [...xs];
        selectFirst(a, k, (x, y) => x - y);
        const sorted = [...xs].sort((x, y) => x - y);
        expect(a[k]).toBe(sorted[k]);
        for (let i = 0; i < k; i++) expect(a[i]!).toBeLessThanOrEqual(a[k]!);
        for (let i = k + 1; i < a.length; i++) expect(a[i]!).toBeGreaterThanOrEqual(a[k]!);
        expect([...a].sort((x, y) => x - y)).toEqual(sorted);
      }),
      { numRuns: 500 },
    );
  });
});
