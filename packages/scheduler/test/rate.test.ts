// Tests for rate.ts: the token bucket admits about rate * t tasks over t seconds (plus the burst),
// never exceeds its burst, survives a clock going backwards, and predicts when tokens return.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newBucket, nextTokenAt, refill, tryTake } from '../src/rate.js';

describe('token bucket', () => {
  it('starts full and never refills above burst', () => {
    const b = newBucket(1000, 5);
    expect(b).toEqual({ tokens: 5, updatedAt: 1000 });
    expect(refill(b, 1_000_000, 10, 5).tokens).toBe(5);
    const half = refill({ tokens: 0, updatedAt: 0 }, 250, 10, 5);
    expect(half).toEqual({ tokens: 2.5, updatedAt: 250 });
  });

  it('does not mutate its input', () => {
    const b = newBucket(0, 2);
    const r = tryTake(b, 10, 5, 2);
    expect(b).toEqual({ tokens: 2, updatedAt: 0 });
    expect(r.bucket).not.toBe(b);
  });

  it('takes while tokens last, then refuses', () => {
    let b = newBucket(0, 2);
    const r1 = tryTake(b, 0, 1, 2);
    const r2 = tryTake(r1.bucket, 0, 1, 2);
    const r3 = tryTake(r2.bucket, 0, 1, 2);
    expect([r1.ok, r2.ok, r3.ok]).toEqual([true, true, false]);
    b = r3.bucket;
    expect(tryTake(b, 999, 1, 2).ok).toBe(false);
    expect(tryTake(b, 1000, 1, 2).ok).toBe(true);
    expect(tryTake(newBucket(0, 5), 0, 1, 5, 3).bucket.tokens).toBe(2);
    expect(tryTake(newBucket(0, 5), 0, 1, 5, 6).ok).toBe(false);
  });

  it('adds nothing when the clock goes backwards, and keeps working afterwards', () => {
    const b = { tokens: 1, updatedAt: 10_000 };
    const back = refill(b, 4_000, 10, 5);
    expect(back.tokens).toBe(1);
    const later = refill(back, 4_100, 10, 5);
    expect(later.tokens).toBeCloseTo(2, 9); // refills from the new clock, no stall until 10_000
    expect(tryTake(b, 0, 10, 5)).toEqual({ ok: true, bucket: { tokens: 0, updatedAt: 0 } });
    expect(refill(b, NaN, 10, 5)).toEqual(b);
  });

  it('nextTokenAt says when n tokens are there, and taking then succeeds', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.double({ min: 0.1, max: 100, noNaN: true }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 1e6 }),
        (tokens, rate, burst, n, now) => {
          const b = { tokens: Math.min(tokens, burst), updatedAt: now };
          const at = nextTokenAt(b, now, rate, burst, n);
          if (n > burst) {
            expect(at).toBe(Infinity);
            return;
          }
          expect(at).toBeGreaterThanOrEqual(now);
          expect(tryTake(b, at, rate, burst, n).ok).toBe(true);
          if (at > now + 1) expect(tryTake(b, at - 1, rate, burst, n).ok).toBe(false);
        },
      ),
    );
    expect(nextTokenAt({ tokens: 0, updatedAt: 0 }, 0, 0, 5)).toBe(Infinity);
    expect(nextTokenAt(newBucket(0, 5), 0, 0, 5)).toBe(0);
  });

  it('over 10 simulated seconds, greedy taking gets rate * 10 within burst', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom(1, 3, 10, 17),
        (rate, extra, tickMs) => {
          // A taker polling every tickMs needs room for one tick's accrual on top of a whole
          // token, or the cap discards the overshoot (that is the bucket working as specified).
          const burst = Math.ceil(1 + (rate * tickMs) / 1000) + extra;
          let b = newBucket(0, burst);
          let taken = 0;
          for (let now = 0; now <= 10_000; now += tickMs) {
            for (;;) {
              const r = tryTake(b, now, rate, burst);
              b = r.bucket;
              if (!r.ok) break;
              taken++;
            }
          }
          expect(Math.abs(taken - rate * 10)).toBeLessThanOrEqual(burst);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('sleeping until nextTokenAt paces takes at the rate', () => {
    const rate = 7;
    const burst = 3;
    let b = newBucket(0, burst);
    let now = 0;
    let taken = 0;
    while (now <= 10_000) {
      const r = tryTake(b, now, rate, burst);
      b = r.bucket;
      if (r.ok) taken++;
      else now = nextTokenAt(b, now, rate, burst);
    }
    expect(Math.abs(taken - rate * 10)).toBeLessThanOrEqual(burst);
  });
});
