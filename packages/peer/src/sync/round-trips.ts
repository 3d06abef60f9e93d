// Round-trip times to each peer, smoothed: a pull (step 1) is timed until its answer (step 2)
// arrives, and a probe (ping) until its pong. Pulls are rare once anti-entropy only pulls what is
// still missing, so probes keep the figure current. The peer stretches its bid windows to cover
// the slowest link, and the sync engine's grace before a pull is a few round trips.

/** Samples above this are not believed (a probe's time comes from the other side's echo). */
const MAX_SAMPLE_MS = 60_000;

export class RoundTrips {
  /** When we last sent a pull to each peer. */
  private readonly sentAt = new Map<string, number>();
  /** Smoothed round-trip time per peer, ms. */
  private readonly rtt = new Map<string, number>();
  /** When each peer's last sample was taken. */
  private readonly sampledAt = new Map<string, number>();

  /** A pull went to `peer` at `now`. */
  sent(peer: string, now: number): void {
    this.sentAt.set(peer, now);
  }

  /** The answer of `peer` arrived at `now`: one sample, if a pull was out. */
  answered(peer: string, now: number): void {
    const sent = this.sentAt.get(peer);
    if (sent === undefined) return;
    this.sentAt.delete(peer);
    this.sample(peer, now - sent, now);
  }

  /** One measured round trip to `peer` (a probe's pong). */
  sample(peer: string, ms: number, now: number): void {
    if (!(ms >= 0 && ms <= MAX_SAMPLE_MS)) return;
    const prev = this.rtt.get(peer);
    this.rtt.set(peer, prev === undefined ? ms : prev * 0.8 + ms * 0.2);
    this.sampledAt.set(peer, now);
  }

  /** When `peer` was last measured, if ever. */
  lastSampleAt(peer: string): number | undefined {
    return this.sampledAt.get(peer);
  }

  /** The largest smoothed round trip among `peers`, ms (0 when none measured yet). */
  max(peers: readonly string[]): number {
    let max = 0;
    for (const p of peers) max = Math.max(max, this.rtt.get(p) ?? 0);
    return max;
  }
}
