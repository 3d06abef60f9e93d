// Redial backoff, one formula for every place that makes a peer wait before the next dial: a dial
// that failed, and a connection that died young (a peer that gates us lets the dial finish, then
// drops it). 1 s, doubling, at most 5 s. Pure: the caller passes the time.

export interface Backoff {
  /** The wait that was set. */
  readonly delay: number;
  /** No dial before this time (ms, the caller's clock). */
  readonly nextAt: number;
}

export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { minMs: 1_000, maxMs: 5_000 };

/** The backoff after one more failure: the first waits `minMs`, each next one twice the last, capped. */
export function nextBackoff(prev: Backoff | undefined, now: number, policy: BackoffPolicy = DEFAULT_BACKOFF): Backoff {
  const delay = prev ? Math.min(prev.delay * 2, policy.maxMs) : policy.minMs;
  return { delay, nextAt: now + delay };
}

/** True while a peer with this backoff must not be dialled. */
export function backingOff(b: Backoff | undefined, now: number): boolean {
  return b !== undefined && now < b.nextAt;
}
