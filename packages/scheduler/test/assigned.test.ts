// The lifecycle of a task whose round 1 was assigned by its creator (task batches): no bids, only
// the assignee's claim counts in round 1, the assignment is a lease of the assignee, and a release
// (an expiry of round 1) opens round 2 to bidding as usual; a round after a failed run is assigned from the registry.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_BACKOFF, DEFAULT_LEASE, REGISTRY_SETTLE_MS, deriveTask, canonicalResult, type DeriveContext, type TaskFacts, type TaskSpec } from '../src/index.js';

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

  it('a co-assignee (another batch named the same id) may claim round 1, and its result counts', () => {
    const v = deriveTask(facts({ coAssignees: ['q'], claims: [claim('q')], dones: [done('q', 1, 'by-q')] }), ctx());
    expect(v.state).toBe('done');
    expect(v.result?.result).toBe('by-q');
    expect(v.duplicates).toEqual([]);
    const w = deriveTask(facts({ coAssignees: ['q'], claims: [claim('q'), claim('r')], dones: [done('r')] }), ctx());
    expect(w.state).toBe('running');
    expect(w.claim?.peer).toBe('q');
    expect(w.duplicates.map((d) => d.peer)).toEqual(['r']);
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

describe('rounds assigned from the registry', () => {
  const candidates = [
    { id: 'a', capacity: 10, capabilities: ['work'], joinedAt: -10_000 },
    { id: 'b', capacity: 10, capabilities: ['work'], joinedAt: -10_000 },
    { id: 'c', capacity: 10, capabilities: ['other'], joinedAt: -10_000 },
  ];
  const unassigned = (over: Partial<TaskFacts> = {}): TaskFacts => ({ spec: spec(), bids: [], claims: [], dones: [], fails: [], expiries: [], ...over });

  it('a single task entry gets round 1 assigned to a capable peer of the registry, the same everywhere', () => {
    const v = deriveTask(unassigned(), ctx({ candidates }));
    expect(['a', 'b']).toContain(v.assignee);
    expect(v.state).toBe('claimed');
    expect(deriveTask(unassigned(), ctx({ candidates: [...candidates].reverse() })).assignee).toBe(v.assignee);
    // without the registry, round 1 is bid on as before
    expect(deriveTask(unassigned(), ctx()).state).toBe('pending');
  });

  it('only peers that joined REGISTRY_SETTLE_MS before the round opened are assigned it (else it is bid on)', () => {
    const v = deriveTask(unassigned(), ctx({ candidates }));
    const late = candidates.map((c) => (c.id === v.assignee ? { ...c, joinedAt: -REGISTRY_SETTLE_MS + 1 } : c));
    const w = deriveTask(unassigned(), ctx({ candidates: late }));
    expect(w.assignee).toBeDefined();
    expect(w.assignee).not.toBe(v.assignee);
    const allLate = candidates.map((c) => ({ ...c, joinedAt: 0 }));
    const x = deriveTask(unassigned(), ctx({ candidates: allLate }));
    expect(x.assignee).toBeUndefined();
    expect(x.state).toBe('pending');
    // a retry round counts from the failed run's time
    const retried = facts({ assignee: 'a', claims: [claim('a')], fails: [{ peer: 'a', round: 1, error: 'x', at: REGISTRY_SETTLE_MS }] });
    expect(deriveTask(retried, ctx({ candidates: allLate })).assignee).toBe('b');
  });

  it('a retry round goes to another peer than the one that failed, and only its claim counts', () => {
    const first = deriveTask(facts({ assignee: 'a', claims: [claim('a')], fails: [{ peer: 'a', round: 1, error: 'x', at: 2 }] }), ctx({ candidates }));
    expect(first.round).toBe(2);
    expect(first.assignee).toBe('b');
    expect(first.state).toBe('claimed');
    const stray = deriveTask(facts({ assignee: 'a', claims: [claim('a'), claim('a', 2)], fails: [{ peer: 'a', round: 1, error: 'x', at: 2 }] }), ctx({ candidates }));
    expect(stray.state).toBe('claimed');
    const ok = deriveTask(facts({ assignee: 'a', claims: [claim('a'), claim('b', 2)], fails: [{ peer: 'a', round: 1, error: 'x', at: 2 }], dones: [done('b', 2)] }), ctx({ candidates }));
    expect(ok.state).toBe('done');
    expect(ok.result?.peer).toBe('b');
  });

  it('an assigned round that lapsed without a claim closes, and the next round is bid on (no cascade across a partition)', () => {
    const v = deriveTask(facts({ assignee: 'a', expiries: [{ round: 1, by: 'b', at: 5 }] }), ctx({ candidates }));
    expect(v.round).toBe(2);
    expect(v.assignee).toBeUndefined();
    expect(v.state).toBe('pending');
  });

  it('a round both failed by its holder and expired by another peer is closed by the expiry: the next round is bid on, and a run won there keeps counting once the failure arrives', () => {
    // Simulator seed 19 (5 peers, 100 tasks, 1,500 steps): 'a' (round 1's assignee) was cut off;
    // 'd' expired round 1; the bidders' winner 'b' ran round 2 and finished it. Then 'a''s own run
    // of round 1 (it had not seen the expiry) arrived, failed. Were the failure to close round 1,
    // round 2 would become an assigned round whose assignee (not 'b') would run it again.
    const expiry = { round: 1, by: 'd', at: 5 };
    const bids = [
      { peer: 'b', round: 2, score: 0.05, load: 1, capacity: 36, at: 6 },
      { peer: 'c', round: 2, score: 0.11, load: 1, capacity: 18, at: 6 },
    ];
    const seenByBidders = facts({ assignee: 'a', expiries: [expiry], bids, claims: [claim('b', 2)], dones: [done('b', 2)] });
    const before = deriveTask(seenByBidders, ctx({ candidates }));
    expect(before.state).toBe('done');
    expect(before.result?.peer).toBe('b');
    const withFailure = facts({ ...seenByBidders, claims: [claim('a'), claim('b', 2)], fails: [{ peer: 'a', round: 1, error: 'x', at: 7 }] });
    const after = deriveTask(withFailure, ctx({ candidates }));
    expect(after.state).toBe('done');
    expect(after.result?.peer).toBe('b');
    expect(after.duplicates).toEqual([]);
    // Before 'b' ran it: round 2 is still a bid round (no assignee), whichever facts are known.
    const open = deriveTask(facts({ assignee: 'a', expiries: [expiry], claims: [claim('a')], fails: [{ peer: 'a', round: 1, error: 'x', at: 7 }] }), ctx({ candidates }));
    expect(open.round).toBe(2);
    expect(open.assignee).toBeUndefined();
    expect(open.state).toBe('pending');
    // The failed run still counts as a failed attempt.
    expect(open.errors.map((e) => e.peer)).toEqual(['a']);
    // A failure nobody expired still sends the next round to the registry.
    const failedOnly = deriveTask(facts({ assignee: 'a', claims: [claim('a')], fails: [{ peer: 'a', round: 1, error: 'x', at: 7 }] }), ctx({ candidates }));
    expect(failedOnly.assignee).toBe('b');
  });

  it('a failed round that more than one peer claimed (two sides ran it) sends the next round to bids: a run one side finished keeps counting after the merge', () => {
    // Simulator seed 5003 (15 peers, 1,000 tasks): each side of a partition ran round 1 and failed
    // it. Which claim is canonical changes when the sides merge, and with it the registry's pick for
    // round 2; the pick named another peer than the one a side had already run round 2 with, its
    // finished run was voided, and a third peer ran the task again.
    const cands = [...candidates, { id: 'd', capacity: 10, capabilities: ['work'], joinedAt: -10_000 }];
    const failA = { peer: 'a', round: 1, error: 'x', at: 2 };
    const failD = { peer: 'd', round: 1, error: 'y', at: 9 };
    const sideA = deriveTask(facts({ assignee: 'a', coAssignees: ['d'], claims: [claim('a')], fails: [failA] }), ctx({ candidates: cands }));
    expect(sideA.round).toBe(2);
    const x = sideA.assignee!;
    expect(x).toBeDefined();
    expect(x).not.toBe('a');
    // Merged before anyone ran round 2: it is bid on.
    const open = deriveTask(facts({ assignee: 'a', coAssignees: ['d'], claims: [claim('a'), claim('d')], fails: [failA, failD] }), ctx({ candidates: cands }));
    expect(open.round).toBe(2);
    expect(open.assignee).toBeUndefined();
    expect(open.state).toBe('pending');
    // Merged after side A's pick finished round 2: done with its result, whatever the order.
    const merged = facts({ assignee: 'a', coAssignees: ['d'], claims: [claim('a'), claim('d'), claim(x, 2)], fails: [failA, failD], dones: [done(x, 2, 'r2')] });
    const v = deriveTask(merged, ctx({ candidates: cands }));
    expect(v.state).toBe('done');
    expect(v.result?.peer).toBe(x);
    expect(v.duplicates).toEqual([]);
    expect(deriveTask({ ...merged, claims: [...merged.claims].reverse(), fails: [failD, failA] }, ctx({ candidates: cands })).result?.result).toBe('r2');
  });

  it('after a failed run the next round goes to someone else; once every capable peer held one, to the best of all', () => {
    const v = deriveTask(facts({ assignee: 'a', claims: [claim('a')], fails: [{ peer: 'a', round: 1, error: 'x', at: 2 }] }), ctx({ candidates }));
    expect(v.round).toBe(2);
    expect(v.assignee).toBe('b');
    const w = deriveTask(
      facts({
        assignee: 'a',
        claims: [claim('a'), claim('b', 2)],
        fails: [{ peer: 'a', round: 1, error: 'x', at: 2 }, { peer: 'b', round: 2, error: 'y', at: 4 }],
      }),
      ctx({ candidates }),
    );
    expect(w.round).toBe(3);
    // both capable peers held a round: the rendezvous winner among all of them
    expect(['a', 'b']).toContain(w.assignee);
  });
});
