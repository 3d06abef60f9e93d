// Tests for lease.ts: both ways a lease lapses (holder unseen, run past its timeout) and their boundaries; when an observer hears too few peers to end leases.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONNECTED_SILENCE_LEASES, DEFAULT_LEASE, leaseLapsed, observerHearsMost, observerLag, silenceOverdue } from '../src/lease.js';

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

describe('observerHearsMost', () => {
  const L = { leaseMs: 1_000, graceMs: 500 };
  const now = 100_000;

  it('holds expiries back when most peers heard lately are silent past the lease (a lagging observer)', () => {
    // 3 of 4 peers silent 5 s, one heard just now: the observer is behind, not the holders gone.
    expect(observerHearsMost([now - 5_000, now - 5_000, now - 5_000, now], now, L)).toBe(false);
    // Most heard within the lease: one silent holder is the holder's silence.
    expect(observerHearsMost([now - 5_000, now - 200, now - 100, now], now, L)).toBe(true);
  });

  it('holds nothing back with fewer than three peers heard lately (alone, or after a long partition)', () => {
    expect(observerHearsMost([], now, L)).toBe(true);
    expect(observerHearsMost([now - 5_000, now - 5_000], now, L)).toBe(true);
    // Peers never seen, or unheard for more than 10 leases, do not count.
    expect(observerHearsMost([undefined, now - 20_000, now - 30_000, now - 5_000, now - 5_000], now, L)).toBe(true);
  });

  it('is "the median silence of the peers heard within 10 leases is within the lease", for any sightings', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }), { maxLength: 40 }), (ago) => {
        const seen = ago.map((a) => (a === undefined ? undefined : now - a));
        const recent = ago.filter((a): a is number => a !== undefined && a <= 10 * L.leaseMs).sort((a, b) => a - b);
        const want = recent.length < 3 || recent[Math.floor(recent.length / 2)]! <= L.leaseMs;
        expect(observerHearsMost(seen, now, L)).toBe(want);
      }),
    );
  });
});

describe('observerLag and silenceOverdue', () => {
  const L = { leaseMs: 1_000, graceMs: 500 };
  const now = 100_000;

  it('is the median silence of the peers heard lately, undefined past the lease, 0 with fewer than three', () => {
    expect(observerLag([now - 400, now - 100, now - 900, now], now, L)).toBe(400);
    expect(observerLag([now - 5_000, now - 5_000, now - 5_000, now], now, L)).toBeUndefined();
    expect(observerLag([now - 5_000, now - 200], now, L)).toBe(0);
  });

  it('ends a lease only past the lease plus the observer\'s lag: a slow mesh is not a gone holder', () => {
    // Every peer 800 ms silent at this observer: a holder 1.5 s silent is as late as the rest.
    const lag = observerLag([now - 800, now - 800, now - 800, now - 1_500], now, L)!;
    expect(lag).toBe(800);
    expect(silenceOverdue(1_500, lag, L)).toBe(false);
    expect(silenceOverdue(1_801, lag, L)).toBe(true);
    // A quiet, healthy mesh: the lease alone (plus ~0) decides, as before.
    expect(silenceOverdue(1_001, 0, L)).toBe(true);
  });

  it('gives a holder still connected to the observer CONNECTED_SILENCE_LEASES leases (a stalled loop is not a gone peer)', () => {
    const bound = CONNECTED_SILENCE_LEASES * L.leaseMs;
    expect(silenceOverdue(1_001, 0, L, true)).toBe(false);
    expect(silenceOverdue(bound, 0, L, true)).toBe(false);
    expect(silenceOverdue(bound + 1, 0, L, true)).toBe(true);
    expect(silenceOverdue(bound + 1, 0, L, false)).toBe(true);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 0, max: L.leaseMs }), (silence, lag) => {
        // Connected: overdue exactly when overdue anyway and past the bound; never earlier than disconnected.
        expect(silenceOverdue(silence, lag, L, true)).toBe(silenceOverdue(silence, lag, L) && silence > bound);
      }),
    );
  });

  it('agrees with observerHearsMost, and a lag never shortens the lease, for any sightings', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -50, max: 30_000 }), { nil: undefined }), { maxLength: 40 }), fc.integer({ min: 0, max: 40_000 }), (ago, silence) => {
        const seen = ago.map((a) => (a === undefined ? undefined : now - a));
        const lag = observerLag(seen, now, L);
        expect(lag !== undefined).toBe(observerHearsMost(seen, now, L));
        if (lag === undefined) return;
        expect(lag).toBeGreaterThanOrEqual(0);
        expect(lag).toBeLessThanOrEqual(L.leaseMs);
        if (silenceOverdue(silence, lag, L)) expect(silence).toBeGreaterThan(L.leaseMs);
        expect(silenceOverdue(silence, lag, L)).toBe(silence > L.leaseMs + lag);
      }),
    );
  });
});
