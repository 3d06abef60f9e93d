// Tests for assign.ts: which tasks of a batch are assigned, the creator first up to its room,
// capability checks, load-aware overflow, shares in proportion to capacity, and determinism.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignTasks, assignable, type AssignCandidate } from '../src/assign.js';
import type { TaskSpec } from '../src/types.js';

const spec = (over: Partial<TaskSpec> = {}): Pick<TaskSpec, 'type' | 'requires' | 'exclusive' | 'dependsOn' | 'notBefore' | 'createdAt'> => ({
  type: 'echo',
  requires: [],
  dependsOn: [],
  notBefore: 0,
  createdAt: 1000,
  ...over,
});
const peer = (id: string, capacity: number, room = 0, capabilities = ['echo']): AssignCandidate => ({ id, capacity, room, capabilities });

describe('assignable', () => {
  it('leaves exclusive, delayed and dependent tasks to bidding', () => {
    expect(assignable(spec())).toBe(true);
    expect(assignable(spec({ exclusive: true }))).toBe(false);
    expect(assignable(spec({ dependsOn: ['x'] }))).toBe(false);
    expect(assignable(spec({ notBefore: 2000 }))).toBe(false);
    expect(assignable(spec({ notBefore: 500 }))).toBe(true);
  });
});

describe('assignTasks', () => {
  it('gives the creator what it has room for, then spreads the rest', () => {
    const specs = Array.from({ length: 10 }, () => spec());
    const out = assignTasks(specs, [peer('a', 10, 3), peer('b', 10), peer('c', 10)], { key: 'k', self: 'a' });
    expect(out.slice(0, 3)).toEqual(['a', 'a', 'a']);
    expect(out.every((x) => x !== undefined)).toBe(true);
  });

  it('never assigns to a peer that cannot run the task, and leaves it unassigned when nobody can', () => {
    const specs = [spec({ type: 'gpu' }), spec({ type: 'echo', requires: ['fast'] }), spec({ type: 'nobody' })];
    const out = assignTasks(specs, [peer('a', 10, 5, ['echo']), peer('b', 10, 0, ['gpu']), peer('c', 10, 0, ['echo', 'fast'])], { key: 'k', self: 'a' });
    expect(out).toEqual(['b', 'c', undefined]);
  });

  it('leaves exclusive, delayed and dependent tasks unassigned', () => {
    const out = assignTasks([spec({ exclusive: true }), spec({ dependsOn: ['t'] }), spec({ notBefore: 5000 }), spec()], [peer('a', 10, 10)], { key: 'k', self: 'a' });
    expect(out).toEqual([undefined, undefined, undefined, 'a']);
  });

  it('skips full peers while another eligible peer has room', () => {
    const specs = Array.from({ length: 64 }, () => spec());
    const out = assignTasks(specs, [peer('a', 10, 0), peer('b', 10, 0), peer('c', 10, 64)], { key: 'k', slice: 8 });
    expect(out.every((x) => x === 'c')).toBe(true);
  });

  it('splits in proportion to capacity when nobody has room (the 10/20/30 case)', () => {
    const specs = Array.from({ length: 30_000 }, () => spec());
    const out = assignTasks(specs, [peer('a', 10), peer('b', 20), peer('c', 30)], { key: 'batch-1', slice: 4 });
    const share = (id: string) => out.filter((x) => x === id).length / out.length;
    expect(share('a')).toBeCloseTo(1 / 6, 1);
    expect(share('b')).toBeCloseTo(2 / 6, 1);
    expect(share('c')).toBeCloseTo(3 / 6, 1);
    expect(Math.abs(share('a') - 1 / 6)).toBeLessThan(0.03);
    expect(Math.abs(share('c') - 3 / 6)).toBeLessThan(0.03);
  });

  it('is deterministic and ignores the order and duplication of candidates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd'), capacity: fc.integer({ min: 1, max: 50 }), room: fc.integer({ min: 0, max: 5 }) }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.string(),
        (raw, n, key) => {
          // One entry per id (the first), so the permuted list holds the same candidates.
          const byId = new Map<string, AssignCandidate>();
          for (const r of raw) if (!byId.has(r.id)) byId.set(r.id, { ...r, capabilities: ['echo'] });
          const cands = [...byId.values()];
          const specs = Array.from({ length: n }, () => spec());
          const a = assignTasks(specs, cands, { key });
          const b = assignTasks(specs, [...cands].reverse().concat(cands), { key });
          expect(b).toEqual(a);
          expect(a.every((x) => x !== undefined && byId.has(x))).toBe(true);
        },
      ),
    );
  });

  it('never chooses a peer with no usable capacity', () => {
    const out = assignTasks([spec(), spec()], [peer('a', 0, 5), peer('b', Number.NaN, 5), peer('c', 5)], { key: 'k', self: 'a' });
    expect(out).toEqual(['c', 'c']);
  });
});
