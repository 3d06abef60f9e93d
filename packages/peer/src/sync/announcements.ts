// What peers announced they hold (their anti-entropy notices and pulls), and which of it is still
// missing here after a grace period. Under load a notice almost always names something we lack
// only because it is still in flight to us; pulling at once would fetch it twice. So the first
// announcement that is ahead of us is remembered with a due time (a few round trips plus the
// batch window later), and only what is STILL not covered then is worth a pull. Later notices
// from the same peer wait behind it (so a steady stream of notices cannot postpone the check
// forever); once the remembered one is covered, the latest one is checked on its own due time.

import { covers, remoteIsAhead, type StateVector } from './state-vectors.js';

type Announced = ReadonlyMap<number, number>;

interface Watch {
  sv: Announced;
  due: number;
}

export class Announcements {
  /** The latest state vector each peer announced, and when it arrived. */
  private readonly latest = new Map<string, { sv: Announced; at: number }>();
  /** The oldest announcement of each peer that was ahead of us and is not yet checked. */
  private readonly watches = new Map<string, Watch>();

  /** The latest state vector `peer` announced, if any. */
  of(peer: string): Announced | undefined {
    return this.latest.get(peer)?.sv;
  }

  /** `peer` announced `sv` at `now`; `ahead` says whether it holds something we lack. */
  announce(peer: string, sv: Announced, now: number, ahead: boolean, graceMs: number): void {
    this.latest.set(peer, { sv, at: now });
    if (ahead && !this.watches.has(peer)) this.watches.set(peer, { sv, due: now + graceMs });
  }

  forget(peer: string): void {
    this.latest.delete(peer);
    this.watches.delete(peer);
  }

  clear(): void {
    this.latest.clear();
    this.watches.clear();
  }

  /** Stops watching `peer` (a pull from it is under way and will bring what it held). */
  pulled(peer: string): void {
    this.watches.delete(peer);
  }

  /**
   * The peers whose announcement, now due, holds something `local` still lacks. Covered watches are
   * dropped (and replaced by the peer's latest announcement when that one is ahead).
   */
  stillMissing(now: number, local: StateVector, connected: ReadonlySet<string>, graceMs: number): string[] {
    const out: string[] = [];
    for (const [peer, w] of this.watches) {
      if (!connected.has(peer)) {
        this.watches.delete(peer);
        continue;
      }
      if (w.due > now) continue;
      if (!covers(local, w.sv)) {
        out.push(peer);
        continue;
      }
      this.watches.delete(peer);
      const l = this.latest.get(peer);
      if (l && l.sv !== w.sv && remoteIsAhead(l.sv, local)) {
        const due = l.at + graceMs;
        this.watches.set(peer, { sv: l.sv, due });
        if (due <= now) out.push(peer);
      }
    }
    return out;
  }

  /** When the next watch falls due, if any. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const w of this.watches.values()) if (next === undefined || w.due < next) next = w.due;
    return next;
  }
}
