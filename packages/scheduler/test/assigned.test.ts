// The lifecycle of a task whose round 1 was assigned by its creator (task batches): no bids, only
// the assignee's claim counts in round 1, the assignment is a lease of the assignee, and a release
// (an expiry of round 1) opens round 2 to bidding as usual.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_BACKOFF, DEFAULT_LEASE, deriveTask, canonicalResult, type DeriveContext, type TaskFacts, type TaskSpec } from '../src/index.js';

const spec = (over: Partial<TaskSpec> = {}): TaskSpec => ({
  id: 't1', type: 'work', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 0, createdBy: 'a', notBefore: 0, strategy: 'capacity-weighted', ...over,
});
const facts = (over: Partial<TaskFacts> = {}): TaskFacts => ({ spec: spec(), bids: [], claims: [], dones: [], fails: [], expiries: [], assignee: 'p', ...over });
const ctx = (over: Partial<DeriveContext> = {}): DeriveContext => ({
  now: 1000, taskSeenAt: 0, seenAt: () => 0, lastSeen: () => 1000, depState: () => undefined,
  lease: DEFAULT_LEASE, backoff: DEFAULT_BACKOFF, seed: 7, ...over,
});
const claim = (peer: string, round = 1) => ({ peer, round, score: 0, at: 1 });
const done = (peer: string, round = 1, result: unknown = 42) => ({ peer, round, result, at: 2, ms: 1 });

describe('an assigned round 1', () => {
  it('is claimed (assigned) before it starts, running once its assignee claims it, then done', () => {
    const a = deriveTask(facts(), ctx());
    expect(a.state).toBe('claimed');
    expect(a.assignee).toBe('p');
    expect(a.claim).toBeUndefined();
    expect(a.lapsed).toBe(false);
    const b = deriveTask(facts({ claims: [claim('p')] }), ctx());
    expect(b.state).toBe('running');
    expect(b.claim?.peer).toBe('p');
    const c = deriveTask(facts({ claims: [claim('p')], dones: [done('p')] }), ctx());
    expect(c.state).toBe('done');
    expect(c.result?.result).toBe(42);
    expect(c.attempts).toBe(1);
  });

  it('ignores claims and results of anyone else in round 1 (a run made under one is a duplicate)', () => {
    const v = deriveTask(facts({ claims: [claim('q')], dones: [done('q')] }), ctx());
    expect(v.state).toBe('claimed');
    expect(v.result).toBeUndefined();
    expect(v.duplicates.map((d) => d.peer)).toEqual(['q']);
    const w = deriveTask(facts({ claims: [claim('q'), claim('p')], dones: [done('q'), done('p')] }), ctx());
    expect(w.result?.peer).toBe('p');
    expect(w.duplicates.map((d) => d.peer)).toEqual(['q']);
    expect(canonicalResult(facts({ claims: [claim('q'), claim('p')], dones: [done('q', 1, 'x'), done('p', 1, 'y')] })).result?.result).toBe('y');
  });

  it('lapses when its assignee is not seen within the lease (and not before)', () => {
    expect(deriveTask(facts(), ctx({ now: 2500, lastSeen: () => 0 })).lapsed).toBe(false);
    expect(deriveTask(facts(), ctx({ now: DEFAULT_LEASE.leaseMs + 1, lastSeen: () => 0 })).lapsed).toBe(true);
    expect(deriveTask(facts(), ctx({ now: DEFAULT_LEASE.leaseMs + 1, lastSeen: () => undefined, taskSeenAt: 0 })).lapsed).toBe(true);
  });

  it('a release (expiry of round 1) opens round 2 to bids, and its result counts', () => {
    const expiries = [{ round: 1, by: 'p', at: 5 }];
    const v = deriveTask(facts({ expiries }), ctx());
    expect(v.state).toBe('pending');
    expect(v.round).toBe(2);
    expect(v.assignee).toBeUndefined();
    const bids = [{ peer: 'q', round: 2, score: 1, load: 0, capacity: 1, at: 6 }];
    const w = deriveTask(facts({ expiries, bids, claims: [claim('q', 2)], dones: [done('q', 2)] }), ctx());
    expect(w.state).toBe('done');
    expect(w.result?.peer).toBe('q');
  });

  it('the assignee that started before a release still wins with the earlier round (a duplicate is counted)', () => {
    const expiries = [{ round: 1, by: 'x', at: 5 }];
    const v = deriveTask(facts({ expiries, claims: [claim('p'), claim('q', 2)], dones: [done('p', 1, 'first'), done('q', 2, 'second')] }), ctx());
    expect(v.state).toBe('done');
    expect(v.result?.result).toBe('first');
    expect(v.duplicates.map((d) => d.peer)).toEqual(['q']);
  });

  it('exclusive tasks ignore an assignee (quorum claims only)', () => {
    const v = deriveTask(facts({ spec: spec({ exclusive: true }) }), ctx());
    expect(v.state).toBe('pending');
    expect(v.assignee).toBeUndefined();
  });

  it('the state does not depend on the order facts arrived in', () => {
    const all = {
      claims: [claim('p'), claim('q'), claim('q', 2)],
      dones: [done('q'), done('p', 1, 'p1'), done('q', 2, 'q2')],
      expiries: [{ round: 1, by: 'z', at: 3 }],
    };
    const base = deriveTask(facts(all), ctx());
    fc.assert(
      fc.property(fc.shuffledSubarray(all.claims, { minLength: 3 }), fc.shuffledSubarray(all.dones, { minLength: 3 }), (claims, dones) => {
        const v = deriveTask(facts({ ...all, claims, dones }), ctx());
        expect(v.state).toBe(base.state);
        expect(v.result).toEqual(base.result);
        expect(v.duplicates).toEqual(base.duplicates);
      }),
    );
  });
});
