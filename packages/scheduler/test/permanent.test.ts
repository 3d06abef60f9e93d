// A permanent failure (bad input: retrying cannot help) ends the task at once, whatever attempts
// are left; a retry revives it like any dead task.
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, DEFAULT_LEASE, MeshError, deriveTask, isPermanentFailure, permanentError, type DeriveContext, type TaskFacts, type TaskSpec } from '../src/index.js';

const spec = (over: Partial<TaskSpec> = {}): TaskSpec => ({
  id: 't1', type: 'work', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 5,
  timeoutMs: 0, createdAt: 0, createdBy: 'a', notBefore: 0, strategy: 'capacity-weighted', ...over,
});
const ctx: DeriveContext = { now: 1000, taskSeenAt: 0, seenAt: () => 0, lastSeen: () => 1000, depState: () => undefined, lease: DEFAULT_LEASE, backoff: DEFAULT_BACKOFF, seed: 7 };
const facts = (over: Partial<TaskFacts>): TaskFacts => ({ spec: spec(), bids: [], claims: [{ peer: 'p', round: 1, score: 0, at: 1 }], dones: [], fails: [], expiries: [], ...over });

describe('permanent failures', () => {
  it('end the task at once with reason permanent', () => {
    const v = deriveTask(facts({ fails: [{ peer: 'p', round: 1, error: 'bad payload', at: 2, permanent: true }] }), ctx);
    expect(v.state).toBe('dead');
    expect(v.deadReason).toBe('permanent');
    expect(v.errors.map((e) => e.error)).toEqual(['bad payload']);
  });

  it('an ordinary failure with attempts left is retried', () => {
    const v = deriveTask(facts({ fails: [{ peer: 'p', round: 1, error: 'flaky', at: 2 }] }), ctx);
    expect(v.state).toBe('pending');
    expect(v.round).toBe(2);
  });

  it('a retry revives a permanently failed task', () => {
    const v = deriveTask(facts({ fails: [{ peer: 'p', round: 1, error: 'bad', at: 2, permanent: true }], retries: [{ round: 2, by: 'u', at: 3 }] }), ctx);
    expect(v.state).toBe('pending');
  });

  it('PERMANENT and input validation errors are permanent; others are not', () => {
    expect(isPermanentFailure(permanentError('x'))).toBe(true);
    expect(isPermanentFailure(new MeshError('INVALID_ARGUMENT', 'x'))).toBe(true);
    expect(isPermanentFailure(new MeshError('TIMEOUT', 'x'))).toBe(false);
    expect(isPermanentFailure(new Error('x'))).toBe(false);
  });
});
