// When a claim stops counting. A peer that won a round holds a lease on it; if the holder vanishes
// or overruns its timeout, any observer may declare the lease lapsed so the task is bid on again.
// Only the observer's own clock is used (when it saw the holder, when it saw the claim), so clock
// skew between peers never makes a lease lapse early or late.

export interface LeasePolicy {
  /** A holder unseen for longer than this has lost its lease, ms. */
  leaseMs: number;
  /** Extra time past a task's timeoutMs before its lease lapses, ms. */
  graceMs: number;
}

export const DEFAULT_LEASE: LeasePolicy = Object.freeze({ leaseMs: 3000, graceMs: 1000 });

/**
 * True when the holder has not been seen for more than leaseMs (measured from claimSeenAt when it
 * was never seen), or when timeoutMs > 0 and the claim was seen more than timeoutMs + graceMs ago.
 * All times are the observer's clock.
 */
export function leaseLapsed(
  input: { holderLastSeen: number | undefined; claimSeenAt: number; timeoutMs: number },
  now: number,
  policy: LeasePolicy,
): boolean {
  const seen = input.holderLastSeen ?? input.claimSeenAt;
  if (now - seen > policy.leaseMs) return true;
  return input.timeoutMs > 0 && now - input.claimSeenAt > input.timeoutMs + policy.graceMs;
}
