// Admission rate limit: a peer takes on at most `capacity` tasks per second (the brief's P_i), with
// a small burst. A pure token bucket: every function returns a new bucket and never mutates.
// Times are ms on the caller's clock; rates are tokens per second.

export interface TokenBucket {
  tokens: number;
  updatedAt: number;
}

/** Absorbs float error from many small refills (0.1 + 0.1 + ... just below 1). */
const EPS = 1e-9;

/** A full bucket. */
export function newBucket(now: number, burst: number): TokenBucket {
  return { tokens: Math.max(0, burst), updatedAt: now };
}

/**
 * The bucket at time `now`: tokens grow by ratePerSec per second, never above burst.
 * A clock that goes backwards adds nothing and moves the reference time back to `now`
 * (so refills resume from the new clock instead of stalling until it catches up).
 */
export function refill(b: TokenBucket, now: number, ratePerSec: number, burst: number): TokenBucket {
  const cap = Math.max(0, burst);
  if (!Number.isFinite(now)) return { tokens: Math.min(b.tokens, cap), updatedAt: b.updatedAt };
  const elapsed = now - b.updatedAt;
  const add = elapsed > 0 && ratePerSec > 0 ? (elapsed * ratePerSec) / 1000 : 0;
  const tokens = Math.min(cap, b.tokens + add);
  return { tokens: Number.isFinite(tokens) ? tokens : cap, updatedAt: now };
}

/**
 * Takes n tokens at `now` if available. The returned bucket is refilled either way.
 * A caller that polls every T ms should use burst >= n + ratePerSec * T / 1000, or tokens that
 * accrue above the burst between polls are discarded and the achieved rate falls below ratePerSec.
 */
export function tryTake(
  b: TokenBucket,
  now: number,
  ratePerSec: number,
  burst: number,
  n = 1,
): { ok: boolean; bucket: TokenBucket } {
  const r = refill(b, now, ratePerSec, burst);
  if (r.tokens + EPS < n) return { ok: false, bucket: r };
  return { ok: true, bucket: { tokens: Math.max(0, r.tokens - n), updatedAt: r.updatedAt } };
}

/**
 * The earliest time (>= now) at which n tokens will be available; Infinity when never
 * (n above burst, or no refill rate and too few tokens).
 */
export function nextTokenAt(b: TokenBucket, now: number, ratePerSec: number, burst: number, n = 1): number {
  const r = refill(b, now, ratePerSec, burst);
  if (r.tokens + EPS >= n) return now;
  if (n > Math.max(0, burst) + EPS || !(ratePerSec > 0)) return Infinity;
  return now + ((n - r.tokens) * 1000) / ratePerSec;
}
