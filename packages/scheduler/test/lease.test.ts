// Tests for lease.ts: both ways a lease lapses (holder unseen, run past its timeout) and their boundaries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEASE, leaseLapsed } from '../src/lease.js';

const P = { leaseMs: 3000, graceMs: 1000 };

describe('leaseLapsed', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_LEASE).toEqual({ leaseMs: 3000, graceMs: 1000 });
  });

  it('lapses when the holder is unseen for more than leaseMs (strictly)', () => {
    const input = { holderLastSeen: 10_000, claimSeenAt: 9_000, timeoutMs: 0 };
    expect(leaseLapsed(input, 10_000, P)).toBe(false);
    expect(leaseLapsed(input, 13_000, P)).toBe(false); // exactly leaseMs
    expect(leaseLapsed(input, 13_001, P)).toBe(true);
    expect(leaseLapsed(input, 5_000, P)).toBe(false); // observer clock behind its own record
  });

  it('measures from claimSeenAt when the holder was never seen', () => {
    const input = { holderLastSeen: undefined, claimSeenAt: 20_000, timeoutMs: 0 };
    expect(leaseLapsed(input, 23_000, P)).toBe(false);
    expect(leaseLapsed(input, 23_001, P)).toBe(true);
  });

  it('an old sighting of the holder counts, even if the claim was seen later', () => {
    const input = { holderLastSeen: 1_000, claimSeenAt: 50_000, timeoutMs: 0 };
    expect(leaseLapsed(input, 50_000, P)).toBe(true);
  });

  it('lapses a live holder past timeoutMs + graceMs since the claim was seen (strictly)', () => {
    const at = (now: number): boolean => leaseLapsed({ holderLastSeen: now, claimSeenAt: 0, timeoutMs: 5_000 }, now, P);
    expect(at(5_000)).toBe(false);
    expect(at(6_000)).toBe(false); // exactly timeout + grace
    expect(at(6_001)).toBe(true);
  });

  it('has no timeout branch when timeoutMs is 0 or negative', () => {
    for (const timeoutMs of [0, -1]) {
      expect(leaseLapsed({ holderLastSeen: 1e9, claimSeenAt: 0, timeoutMs }, 1e9, P)).toBe(false);
    }
  });

  it('is the disjunction of the two rules', () => {
    const t = fc.integer({ min: 0, max: 100_000 });
    fc.assert(
      fc.property(fc.option(t, { nil: undefined }), t, fc.integer({ min: -10, max: 20_000 }), t, t, t, (last, claim, timeoutMs, now, leaseMs, graceMs) => {
        const pol = { leaseMs, graceMs };
        const unseen = now - (last ?? claim) > leaseMs;
        const overran = timeoutMs > 0 && now - claim > timeoutMs + graceMs;
        expect(leaseLapsed({ holderLastSeen: last, claimSeenAt: claim, timeoutMs }, now, pol)).toBe(unseen || overran);
      }),
    );
  });
});
