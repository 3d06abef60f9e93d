// Round-trip times to each peer, smoothed: a pull (step 1) is timed until its answer (step 2)
// arrives. The peer stretches its bid windows to cover the slowest link.

export class RoundTrips {
  /** When we last sent a pull to each peer. */
  private readonly sentAt = new Map<string, number>();
  /** Smoothed round-trip time per peer, ms. */
  private readonly rtt = new Map<string, number>();

  /** A pull went to `peer` at `now`. */
  sent(peer: string, now: number): void {
    this.sentAt.set(peer, now);
  }

  /** The answer of `peer` arrived at `now`: one sample, if a pull was out. */
  answered(peer: string, now: number): void {
    const sent = this.sentAt.get(peer);
    if (sent === undefined) return;
    this.sentAt.delete(peer);
    const sample = Math.max(0, now - sent);
    const prev = this.rtt.get(peer);
    this.rtt.set(peer, prev === undefined ? sample : prev * 0.8 + sample * 0.2);
  }

  /** The largest smoothed round trip among `peers`, ms (0 when none measured yet). */
  max(peers: readonly string[]): number {
    let max = 0;
    for (const p of peers) max = Math.max(max, this.rtt.get(p) ?? 0);
    return max;
  }
}
