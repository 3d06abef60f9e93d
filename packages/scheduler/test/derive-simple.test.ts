// The one-pass derivation of simple tasks (round 1, only claims and results) must give exactly what
// the general rules give, for any mix of claims and results, with or without an assignee.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_BACKOFF, DEFAULT_LEASE, deriveGeneral, deriveTask, type DeriveContext, type TaskFacts, type TaskSpec } from '../src/index.js';

const peers = ['a', 'b', 'c'];

const arb = fc.record({
  assignee: fc.option(fc.constantFrom(...peers), { nil: undefined }),
  // One fact per peer and round, as the document's keys make it.
  claims: fc.uniqueArray(fc.record({ peer: fc.constantFrom(...peers), score: fc.integer({ min: 0, max: 3 }), at: fc.integer({ min: 0, max: 50 }) }), { maxLength: 3, selector: (c) => c.peer }),
  dones: fc.uniqueArray(fc.record({ peer: fc.constantFrom(...peers), result: fc.integer(), at: fc.integer({ min: 0, max: 50 }), ms: fc.nat(9) }), { maxLength: 3, selector: (d) => d.peer }),
  notBefore: fc.constantFrom(0, 500, 5),
  timeoutMs: fc.constantFrom(0, 100),
  now: fc.integer({ min: 0, max: 10_000 }),
  lastSeen: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
  taskSeenAt: fc.integer({ min: 0, max: 100 }),
  registry: fc.boolean(),
});

describe('deriveTask on simple tasks', () => {
  it('equals the general rules', () => {
    fc.assert(
      fc.property(arb, (x) => {
        const spec: TaskSpec = { id: 't', type: 'w', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3, timeoutMs: x.timeoutMs, createdAt: 1, createdBy: 'a', notBefore: x.notBefore, strategy: 'capacity-weighted' };
        const facts: TaskFacts = {
          spec,
          bids: [],
          claims: x.claims.map((c) => ({ ...c, round: 1 })),
          dones: x.dones.map((d) => ({ ...d, round: 1 })),
          fails: [],
          expiries: [],
          ...(x.assignee === undefined ? {} : { assignee: x.assignee }),
        };
        const ctx: DeriveContext = { now: x.now, taskSeenAt: x.taskSeenAt, seenAt: (_k, _r, p) => p.charCodeAt(0), lastSeen: () => x.lastSeen, depState: () => undefined, lease: DEFAULT_LEASE, backoff: DEFAULT_BACKOFF, seed: 3, knownPeers: 3, ...(x.registry ? { candidates: peers.map((id, i) => ({ id, capacity: 5 + i, capabilities: ['w'], joinedAt: -1e9 })) } : {}) };
        expect(deriveTask(facts, ctx)).toEqual(deriveGeneral(facts, ctx));
      }),
      { numRuns: 3000 },
    );
  });
});
