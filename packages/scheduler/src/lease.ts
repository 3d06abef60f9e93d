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

/** Peers heard within this many leases count for `observerHearsMost`. */
export const HEARD_LATELY_LEASES = 10;
/** With fewer peers heard lately than this, `observerHearsMost` holds nothing back. */
export const HEARD_LATELY_MIN = 3;

/**
 * May this observer end other peers' leases? Only when it hears most of the peers it heard lately
 * (within HEARD_LATELY_LEASES leases): the median silence of those peers must be within the lease.
 * An observer whose own inbound traffic is behind hears nobody, and every holder looks gone to
 * it: 30 peers on 2 cores, at 97% of 5,401 expiries written the writer's median other peer had
 * been silent 3 s or more (10.5 s typically), so the slowest of 29 observers decided for everyone.
 * With fewer than HEARD_LATELY_MIN peers heard lately (a peer alone, or after a partition or crash
 * longer than HEARD_LATELY_LEASES leases) nothing is held back. `lastSeen`: when this observer last
 * saw each other peer (its clock; undefined: never).
 */
export function observerHearsMost(lastSeen: Iterable<number | undefined>, now: number, policy: LeasePolicy): boolean {
  return observerLag(lastSeen, now, policy) !== undefined;
}

/**
 * How long this observer typically goes without hearing from a peer it heard lately: the median
 * silence of the peers heard within HEARD_LATELY_LEASES leases (0 with fewer than HEARD_LATELY_MIN
 * of them), or undefined when that median is past the lease (observerHearsMost is false).
 */
export function observerLag(lastSeen: Iterable<number | undefined>, now: number, policy: LeasePolicy): number | undefined {
  const silences: number[] = [];
  for (const seen of lastSeen) {
    if (seen === undefined || now - seen > HEARD_LATELY_LEASES * policy.leaseMs) continue;
    silences.push(now - seen);
  }
  if (silences.length < HEARD_LATELY_MIN) return 0;
  silences.sort((a, b) => a - b);
  const median = Math.max(0, silences[silences.length >> 1]!);
  return median <= policy.leaseMs ? median : undefined;
}

/**
 * May an observer whose typical silence is `lag` (observerLag) end the lease of a holder it has
 * not heard for `silence` ms? Only past the lease plus that lag: a holder is gone when it is silent
 * well beyond what every peer is at this observer right now, not when the whole mesh is slow. At
 * 30 peers on 2 cores every loop lags by seconds in a burst; holders 3 s silent at an observer
 * whose median peer was 1-2 s silent had their rounds expired, and the bids, claims and gated runs
 * that followed stalled a few dozen tasks for minutes. A healthy mesh's lag is about half a
 * heartbeat, so a crashed holder's rounds wait that much longer. A holder still `connected` to
 * the observer is overdue only past CONNECTED_SILENCE_LEASES leases as well.
 */
export function silenceOverdue(silence: number, lag: number, policy: LeasePolicy, connected = false): boolean {
  if (silence <= policy.leaseMs + lag) return false;
  return !connected || silence > CONNECTED_SILENCE_LEASES * policy.leaseMs;
}

/**
 * A holder still connected to the observer (its transport link is up) keeps its lease through a
 * silence of up to this many leases (15 s with the default lease). A process that is alive and
 * connected but silent is a slow event loop on a busy machine, and expiring its rounds made it run
 * them twice: 786 duplicate runs of 20,000 (3 peers sharing 2 cores with 2 busy processes), every
 * one a round the holder claimed and ran while the expiry was on its way. A crashed holder's link
 * closes at once, and a cut-off one's when the transport's pings fail; past this bound a holder
 * counts as gone even while its link is still up (a hung process).
 */
export const CONNECTED_SILENCE_LEASES = 5;
