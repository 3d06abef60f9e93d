// The lifecycle rules: state, canonical claim and canonical result are pure functions of the facts,
// whatever order they were merged in, and retries, expiries and dependencies behave as documented.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_BACKOFF, DEFAULT_LEASE, deriveTask, canonicalResult, type DeriveContext, type TaskFacts, type TaskSpec, type TaskState } from '../src/index.js';

const spec = (over: Partial<TaskSpec> = {}): TaskSpec => ({
  id: 't1', type: 'work', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 0, createdBy: 'a', notBefore: 0, strategy: 'capacity-weighted', ...over,
});
const facts = (over: Partial<TaskFacts> = {}): TaskFacts => ({ spec: spec(), bids: [], claims: [], dones: [], fails: [], expiries: [], ...over });
const ctx = (over: Partial<DeriveContext> = {}): DeriveContext => ({
  now: 1000, taskSeenAt: 0, seenAt: () => 0, lastSeen: () => 1000, depState: () => undefined,
  lease: DEFAULT_LEASE, backoff: DEFAULT_BACKOFF, seed: 7, ...over,
});

describe('deriveTask', () => {
  it('pending, then claimed (bids in), then running, then done', () => {
    expect(deriveTask(facts(), ctx()).state).toBe('pending');
    const bids = [{ peer: 'a', round: 1, score: 2, load: 0, capacity: 1, at: 0 }];
    expect(deriveTask(facts({ bids }), ctx()).state).toBe('claimed');
    const claims = [{ peer: 'a', round: 1, score: 2, at: 1 }];
    expect(deriveTask(facts({ bids, claims }), ctx()).state).toBe('running');
    const v = deriveTask(facts({ bids, claims, dones: [{ peer: 'a', round: 1, result: 42, at: 2, ms: 1 }] }), ctx());
    expect(v.state).toBe('done');
    expect(v.result?.result).toBe(42);
    expect(v.attempts).toBe(1);
  });

  it('concurrent claims in one round: the better score is canonical, the other run is a duplicate', () => {
    const claims = [{ peer: 'a', round: 1, score: 5, at: 1 }, { peer: 'b', round: 1, score: 1, at: 1 }];
    const dones = [{ peer: 'a', round: 1, result: 'A', at: 2, ms: 1 }, { peer: 'b', round: 1, result: 'B', at: 3, ms: 1 }];
    const v = deriveTask(facts({ claims, dones }), ctx());
    expect(v.claim?.peer).toBe('b');
    expect(v.result?.peer).toBe('b');
    expect(v.duplicates.map((d) => d.peer)).toEqual(['a']);
  });

  it('a success without a matching claim is ignored', () => {
    const v = deriveTask(facts({ dones: [{ peer: 'x', round: 1, result: 1, at: 2, ms: 1 }] }), ctx());
    expect(v.state).toBe('pending');
  });

  it('failures close rounds, back off, and make the task dead after maxAttempts with every error kept', () => {
    const claims = [1, 2, 3].map((round) => ({ peer: 'a', round, score: 1, at: round }));
    const fails = [1, 2, 3].map((round) => ({ peer: 'a', round, error: `e${round}`, at: round }));
    const two = deriveTask(facts({ claims: claims.slice(0, 2), fails: fails.slice(0, 2) }), ctx({ seenAt: (k, r) => r * 100 }));
    expect(two.state).toBe('pending');
    expect(two.round).toBe(3);
    expect(two.failures).toBe(2);
    expect(two.eligibleAt).toBeGreaterThan(200); // backoff after the 2nd failure, seen at 200
    const three = deriveTask(facts({ claims, fails }), ctx());
    expect(three.state).toBe('dead');
    expect(three.deadReason).toBe('attempts');
    expect(three.errors.map((e) => e.error)).toEqual(['e1', 'e2', 'e3']);
  });

  it('a revived dead task opens a new round with its failures counted afresh', () => {
    const claims = [1, 2, 3].map((round) => ({ peer: 'a', round, score: 1, at: round }));
    const fails = [1, 2, 3].map((round) => ({ peer: 'a', round, error: `e${round}`, at: round }));
    expect(deriveTask(facts({ claims, fails }), ctx()).state).toBe('dead');
    const revived = deriveTask(facts({ claims, fails, retries: [{ round: 4, by: 'x', at: 9 }] }), ctx());
    expect(revived.state).toBe('pending');
    expect(revived.round).toBe(4);
    expect(revived.errors).toHaveLength(3);
    const more = [4, 5, 6].map((round) => ({ peer: 'b', round, score: 1, at: round }));
    const moreFails = [4, 5, 6].map((round) => ({ peer: 'b', round, error: 'x', at: round }));
    expect(deriveTask(facts({ claims: [...claims, ...more], fails: [...fails, ...moreFails], retries: [{ round: 4, by: 'x', at: 9 }] }), ctx()).state).toBe('dead');
  });

  it('exclusive: a claim runs only with a quorum of votes; an interrupted run makes the task dead, never re-run', () => {
    const ex = spec({ exclusive: true });
    const claims = [{ peer: 'a', round: 1, score: 1, at: 1, quorum: 2 }, { peer: 'b', round: 1, score: 0, at: 1, quorum: 2 }];
    const c3 = ctx({ knownPeers: 3 });
    // b has the better score but only its own vote; a has two votes: a's claim is the quorate one.
    const votes = [{ round: 1, voter: 'a', for: 'a', at: 1 }, { round: 1, voter: 'c', for: 'a', at: 1 }, { round: 1, voter: 'b', for: 'b', at: 1 }];
    const v = deriveTask(facts({ spec: ex, claims, votes }), c3);
    expect(v.state).toBe('running');
    expect(v.claim?.peer).toBe('a');
    const noQuorum = deriveTask(facts({ spec: ex, claims, votes: votes.slice(2) }), c3);
    expect(noQuorum.state).toBe('claimed');
    expect(noQuorum.awaitingQuorum.map((c) => c.peer)).toEqual(['b', 'a']);
    // a success of the non-quorate claimant does not count
    expect(deriveTask(facts({ spec: ex, claims, votes, dones: [{ peer: 'b', round: 1, result: 1, at: 2, ms: 1 }] }), c3).state).toBe('running');
    // the quorate run was cut off and released: dead, not re-run
    const cut = deriveTask(facts({ spec: ex, claims, votes, expiries: [{ round: 1, by: 'a', at: 5 }] }), c3);
    expect(cut.state).toBe('dead');
    expect(cut.deadReason).toBe('interrupted');
    // a round that never reached quorum closes and the next one opens
    const reopened = deriveTask(facts({ spec: ex, claims, votes: votes.slice(2), expiries: [{ round: 1, by: 'c', at: 5 }] }), c3);
    expect(reopened.state).toBe('pending');
    expect(reopened.round).toBe(2);
    expect(reopened.attempts).toBe(0);
  });

  it('a lapsed lease is reported; an expiry opens the next round without counting as a failure', () => {
    const claims = [{ peer: 'gone', round: 1, score: 1, at: 1 }];
    const lapsed = deriveTask(facts({ claims }), ctx({ now: 10_000, lastSeen: () => 1000 }));
    expect(lapsed.lapsed).toBe(true);
    const alive = deriveTask(facts({ claims }), ctx({ now: 10_000, lastSeen: () => 9_900 }));
    expect(alive.lapsed).toBe(false);
    const after = deriveTask(facts({ claims, expiries: [{ round: 1, by: 'x', at: 5 }] }), ctx());
    expect(after.round).toBe(2);
    expect(after.state).toBe('pending');
    expect(after.failures).toBe(0);
    expect(after.expiries).toBe(1);
  });

  it('done dominates: a success found after a partition beats dead and cancelled', () => {
    const claims = [1, 2, 3].map((round) => ({ peer: 'a', round, score: 1, at: round }));
    const fails = [2, 3].map((round) => ({ peer: 'a', round, error: 'x', at: round }));
    // round 1: two claims (two sides); b's is canonical and succeeded.
    claims.push({ peer: 'b', round: 1, score: 0, at: 1 });
    const v = deriveTask(facts({ claims, fails, dones: [{ peer: 'b', round: 1, result: 'ok', at: 9, ms: 1 }], cancel: { by: 'z', at: 1, reason: '' } }), ctx());
    expect(v.state).toBe('done');
  });

  it('dependencies block, and a dead dependency kills the dependent', () => {
    const s = spec({ dependsOn: ['d1', 'd2'] });
    const states: Record<string, TaskState> = { d1: 'done', d2: 'running' };
    expect(deriveTask(facts({ spec: s }), ctx({ depState: (id) => states[id] })).blockedBy).toEqual(['d2']);
    states.d2 = 'dead';
    const v = deriveTask(facts({ spec: s }), ctx({ depState: (id) => states[id] }));
    expect(v.state).toBe('dead');
    expect(v.deadReason).toBe('dependency');
  });

  it('state, canonical claim and result do not depend on the order facts arrive in', () => {
    const arbClaim = fc.record({ peer: fc.constantFrom('a', 'b', 'c'), round: fc.integer({ min: 1, max: 3 }), score: fc.integer({ min: 0, max: 3 }), at: fc.nat(10) });
    fc.assert(
      // One claim per (round, peer), as the document's keys guarantee.
      fc.property(fc.uniqueArray(arbClaim, { maxLength: 8, selector: (c) => `${c.round}/${c.peer}` }), fc.array(fc.tuple(fc.nat(7), fc.boolean()), { maxLength: 8 }), fc.integer(), (claims, outcomes, shuffleSeed) => {
        const dones = outcomes.filter(([, ok]) => ok).map(([i]) => claims[i % Math.max(1, claims.length)]).filter((c) => c !== undefined).map((c) => ({ peer: c!.peer, round: c!.round, result: `${c!.peer}${c!.round}`, at: 5, ms: 1 }));
        const fails = outcomes.filter(([, ok]) => !ok).map(([i]) => claims[i % Math.max(1, claims.length)]).filter((c) => c !== undefined).map((c) => ({ peer: c!.peer, round: c!.round, error: 'e', at: 5 }));
        const f = facts({ claims, dones, fails });
        const shuffle = <T>(xs: T[]): T[] => { const out = [...xs]; let s = shuffleSeed >>> 0; for (let i = out.length - 1; i > 0; i--) { s = (s * 1103515245 + 12345) >>> 0; const j = s % (i + 1); [out[i], out[j]] = [out[j]!, out[i]!]; } return out; };
        const g = facts({ claims: shuffle([...claims, ...claims]), dones: shuffle(dones), fails: shuffle(fails) });
        const a = deriveTask(f, ctx());
        const b = deriveTask(g, ctx());
        expect(b.state).toBe(a.state);
        expect(b.round).toBe(a.round);
        expect(b.claim).toEqual(a.claim);
        expect(b.result).toEqual(a.result);
        expect(canonicalResult(g).duplicates.length).toBe(canonicalResult(f).duplicates.length);
      }),
      { numRuns: 300 },
    );
  });
});
