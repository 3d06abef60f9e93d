// Tests for backoff.ts: exponential growth, the cap, jitter bounds and determinism of retry delays.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, hasAttemptsLeft, retryDelay, validateBackoff } from '../src/backoff.js';
import type { BackoffPolicy } from '../src/backoff.js';

const policyArb: fc.Arbitrary<BackoffPolicy> = fc.record({
  baseMs: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.double({ min: 0, max: 5000, noNaN: true })),
  factor: fc.double({ min: 1, max: 10, noNaN: true }),
  maxMs: fc.oneof(fc.integer({ min: 0, max: 120_000 }), fc.double({ min: 0, max: 120_000, noNaN: true })),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
});

const cap = (n: number, p: BackoffPolicy): number => Math.min(p.maxMs, p.baseMs * p.factor ** (n - 1));

describe('validateBackoff', () => {
  it('accepts valid policies and returns a clean copy', () => {
    expect(validateBackoff(DEFAULT_BACKOFF)).toEqual({ baseMs: 200, factor: 2, maxMs: 30_000, jitter: 0.2 });
    expect(validateBackoff({ baseMs: 0, factor: 1, maxMs: 0, jitter: 1, x: 1 })).toEqual({ baseMs: 0, factor: 1, maxMs: 0, jitter: 1 });
  });

  it('rejects bad policies with INVALID_ARGUMENT', () => {
    const ok = { baseMs: 100, factor: 2, maxMs: 1000, jitter: 0.1 };
    const bad: unknown[] = [
      null, 'x', {}, { ...ok, baseMs: -1 }, { ...ok, factor: 0.5 }, { ...ok, maxMs: NaN }, { ...ok, jitter: 1.5 },
      { ...ok, jitter: -0.1 }, { ...ok, baseMs: Infinity }, { ...ok, factor: '2' },
    ];
    for (const b of bad) expect(() => validateBackoff(b)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('retryDelay', () => {
  it('is 0 before any failure', () => {
    for (const n of [0, -1, -Infinity, NaN]) expect(retryDelay(n, DEFAULT_BACKOFF, 1, 't')).toBe(0);
  });

  it('follows the default policy', () => {
    const d1 = retryDelay(1, DEFAULT_BACKOFF, 1, 't');
    expect(d1).toBeGreaterThanOrEqual(160);
    expect(d1).toBeLessThanOrEqual(200);
    const d3 = retryDelay(3, DEFAULT_BACKOFF, 1, 't');
    expect(d3).toBeGreaterThanOrEqual(640);
    expect(d3).toBeLessThanOrEqual(800);
    for (const n of [9, 20, 1000, 1e9]) {
      const d = retryDelay(n, DEFAULT_BACKOFF, 1, 't');
      expect(d).toBeGreaterThanOrEqual(24_000);
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });

  it('is an integer within [(1 - jitter) * d, d] and never above maxMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), policyArb, fc.nat(), fc.string(), (n, p, seed, t) => {
        const v = retryDelay(n, p, seed, t);
        const d = cap(n, p);
        expect(Number.isInteger(v)).toBe(true);
        expect(v).toBeLessThanOrEqual(d);
        expect(v).toBeLessThanOrEqual(p.maxMs);
        expect(v).toBeGreaterThanOrEqual((1 - p.jitter) * d - 1); // whole ms, rounded but never above d
      }),
      { numRuns: 1000 },
    );
  });

  it('with whole-ms policies stays within [(1 - jitter) * d, d] exactly, up to rounding of the lower end', () => {
    const p = { baseMs: 100, factor: 3, maxMs: 10_000, jitter: 0.5 };
    for (let n = 1; n <= 10; n++) {
      for (let i = 0; i < 50; i++) {
        const v = retryDelay(n, p, 3, `t${i}`);
        const d = cap(n, p);
        expect(v).toBeLessThanOrEqual(d);
        expect(v).toBeGreaterThanOrEqual(Math.round(0.5 * d));
      }
    }
  });

  it('is monotone non-decreasing in attempts when jitter = 0', () => {
    fc.assert(
      fc.property(policyArb, fc.nat(), fc.string(), (p0, seed, t) => {
        const p = { ...p0, jitter: 0 };
        let prev = 0;
        for (let n = 1; n <= 40; n++) {
          const v = retryDelay(n, p, seed, t);
          expect(v).toBeGreaterThanOrEqual(prev);
          prev = v;
        }
      }),
    );
  });

  it('is deterministic, and jitter spreads tasks apart', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), policyArb, fc.nat(), fc.string(), (n, p, seed, t) => {
        expect(retryDelay(n, p, seed, t)).toBe(retryDelay(n, p, seed, t));
      }),
    );
    const delays = new Set<number>();
    for (let i = 0; i < 100; i++) delays.add(retryDelay(5, DEFAULT_BACKOFF, 1, `task-${i}`));
    expect(delays.size).toBeGreaterThan(50);
    expect(retryDelay(5, DEFAULT_BACKOFF, 1, 't')).not.toBe(retryDelay(5, DEFAULT_BACKOFF, 2, 't'));
  });
});

describe('hasAttemptsLeft', () => {
  it('is failedAttempts < maxAttempts', () => {
    expect(hasAttemptsLeft(0, 3)).toBe(true);
    expect(hasAttemptsLeft(2, 3)).toBe(true);
    expect(hasAttemptsLeft(3, 3)).toBe(false);
    expect(hasAttemptsLeft(4, 3)).toBe(false);
    expect(hasAttemptsLeft(0, 0)).toBe(false);
  });
});
