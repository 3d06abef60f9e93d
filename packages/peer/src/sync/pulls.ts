// Who the sync engine pulls from, and when: one pull (step 1) at a time, so after a heal the other
// side's content comes once, from one peer, instead of from each of them; gap repairs (updates
// that arrived with something missing before them) wait for a pull under way; and what peers
// announce is pulled only when it is STILL missing after a grace period of a few round trips
// plus the batch window (announcements.ts), since under load it is usually just in flight. The
// round trips come from pulls and probes (round-trips.ts).

import type * as Y from 'yjs';
import type { Clock, TimerId } from '../clock.js';
import { Announcements } from './announcements.js';
import { RoundTrips } from './round-trips.js';
import { docClocks, missingItems } from './state-vectors.js';

/**
 * A pull of at least this many missing items (a heal) holds back gap repairs until it is answered:
 * it will most likely bring what they would ask for, and each would be a full diff too.
 */
const BIG_PULL_ITEMS = 2000;
/** The least time a big pull (a heal) may stay unanswered before another peer is asked. */
const BIG_PULL_TIMEOUT_MS = 10_000;
/** Round trips below this are taken as this much when sizing the grace before a pull. */
const RTT_FLOOR_MS = 10;
/** A peer not measured for this long gets a probe in the next anti-entropy round. */
const PROBE_EVERY_MS = 5000;
/**
 * The grace never exceeds this: round trips measured through a bad patch (or a pull that carried
 * a heal) would otherwise hold back a real repair for seconds.
 */
const MAX_GRACE_MS = 100;
/**
 * A pull's wait is lengthened by the time this process's own loop was busy meanwhile (it could not
 * have read an answer then), by at most this much.
 */
const MAX_BUSY_CREDIT_MS = 2000;
/**
 * A pull whose peer is sending us something big (most likely the answer: TransportHandlers.
 * receiving) stays under way while the bytes keep coming, this long after the latest of them.
 */
const ARRIVING_WAIT_MS = 1000;

export interface PullsDeps {
  clock: Clock;
  batchMs: number;
  /** Minimum time between two gap repairs asked of one peer. */
  repairMs: number;
  connectedPeers(): readonly string[];
  /** The document synced now. */
  doc(): Y.Doc;
  /** Sends the step 1 (the engine encodes it). */
  sendPull(peer: string): void;
  stats: { repairs: number; pulls: number };
}

export class Pulls {
  /** What each peer announced it holds in this generation, and what of it is still missing. */
  readonly announced = new Announcements();
  readonly roundTrips = new RoundTrips();
  /**
   * The pull under way: its peer, when it went, whether it is a big one (a heal), and how busy
   * this process's loop had been by then (Clock.busyMs).
   */
  private pulling: { peer: string; at: number; big: boolean; busyAt: number; arrivingAt?: number } | undefined;
  /** Last time we asked each peer to repair a gap (its updates arrived out of order or were lost). */
  private readonly lastRepair = new Map<string, number>();
  /** Peers a repair was put off for while a pull was under way. */
  private readonly repairWanted = new Set<string>();
  /** Peers whose link came up and who have not announced their state since. */
  private readonly fresh = new Set<string>();
  /** Peers we were told are connected. */
  private readonly links = new Set<string>();
  /** When maybePull() next runs by itself (an announcement falls due, or a pull times out). */
  private checkTimer: TimerId | undefined;
  private checkAt = 0;
  private stopped = false;

  constructor(private readonly d: PullsDeps) {}

  /** Asks `peer` for what we miss. */
  pull(peer: string, big = false): void {
    const now = this.d.clock.now();
    this.pulling = { peer, at: now, big, busyAt: this.d.clock.busyMs?.() ?? 0 };
    this.d.stats.pulls++;
    this.roundTrips.sent(peer, now);
    this.d.sendPull(peer);
  }

  /**
   * `peer` announced `sv` (a notice or a pull); `ahead` says whether it holds something we lack.
   * The first announcement over a link that just came up is due at once: what it names is not in
   * flight (after a partition heals, both sides hold what the other lacks).
   */
  announce(peer: string, sv: ReadonlyMap<number, number>, now: number, ahead: boolean): void {
    const fresh = this.fresh.delete(peer);
    if (sv.size > 0) this.announced.announce(peer, sv, now, ahead, fresh ? 0 : this.graceMs());
  }

  /** A link to `peer` came up (a repeated connect without a disconnect between is not news). */
  connected(peer: string): void {
    if (this.links.has(peer)) return;
    this.links.add(peer);
    this.fresh.add(peer);
  }

  /**
   * Part of a big message from `peer` arrived: when it is the peer pulled, its answer is most likely
   * on the way (a heal's diff, sent in pieces as flow control allows; its sender may be too busy to
   * send the rest at once). Asking another peer now would bring the same megabytes twice.
   */
  receiving(peer: string, now: number): void {
    if (this.pulling?.peer === peer) this.pulling.arrivingAt = now;
  }

  /** A step 2 from `peer` arrived. */
  answered(peer: string, now: number): void {
    this.roundTrips.answered(peer, now);
    if (this.pulling?.peer === peer) this.pulling = undefined;
  }

  /**
   * After a step 2 was applied: a repair put off while the pull was under way is asked now if
   * something is still missing (true), else the next pull is considered.
   */
  afterAnswer(): void {
    if (this.pulling === undefined && this.repairWanted.size > 0) {
      const store = this.d.doc().store;
      const still = store.pendingStructs !== null || store.pendingDs !== null;
      const connected = this.d.connectedPeers();
      const next = [...this.repairWanted].find((p) => connected.includes(p));
      this.repairWanted.clear();
      if (still && next !== undefined) {
        this.repair(next);
        return;
      }
    }
    this.maybePull();
  }

  /** A pull from a peer that went away will never be answered: pull elsewhere at once. */
  disconnected(peer: string): void {
    this.links.delete(peer);
    this.fresh.delete(peer);
    if (this.pulling?.peer !== peer) return;
    this.pulling = undefined;
    this.maybePull();
  }

  /** A new generation: nothing announced or under way holds for it. */
  reset(): void {
    this.announced.clear();
    this.fresh.clear();
    this.clearCheck();
    this.pulling = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.clearCheck();
  }

  start(): void {
    this.stopped = false;
  }

  /** The largest smoothed round trip to a connected peer, ms (0 when none measured yet). */
  maxRtt(): number {
    return this.roundTrips.max(this.d.connectedPeers());
  }

  /** Whether `peer` is due a probe (not measured lately). */
  probeDue(peer: string, now: number): boolean {
    const sampled = this.roundTrips.lastSampleAt(peer);
    return sampled === undefined || now - sampled >= PROBE_EVERY_MS;
  }

  /**
   * How long a pull may stay unanswered before another is sent (and gap repairs wait for it): a
   * large one (a heal) gets seconds, a small one a few round trips. A heal's answer comes from a
   * peer that is itself busy taking in the other side's work (one synchronous apply of thousands
   * of tasks); six peers on two cores took up to 6 s to answer a 5,000-task heal, and a second pull
   * after 2 s (or 5) brought the same megabytes again (twice a peer's minimal diff).
   * A pull from a peer that disconnects is replaced at once (disconnected()), whatever this says.
   */
  private pullTimeoutMs(big = this.pulling?.big ?? false): number {
    return big ? Math.max(BIG_PULL_TIMEOUT_MS, 4 * this.maxRtt()) : Math.max(150, 3 * this.maxRtt());
  }

  /** How long an announced state may stay uncovered before it is pulled: it may be in flight. */
  graceMs(): number {
    return Math.min(MAX_GRACE_MS, 3 * Math.max(this.maxRtt(), RTT_FLOOR_MS) + this.d.batchMs);
  }

  /**
   * How much longer than its timeout the pull under way waits: the time this process's loop was
   * busy since it went (at most MAX_BUSY_CREDIT_MS). A peer whose loop was blocked (a heal's
   * synchronous apply, answering others' pulls) would otherwise find its timer due the moment it
   * is free again, before it reads the answer already waiting for it, and ask a second peer for the
   * same megabytes. Where the clock cannot tell (the simulator) it is 0.
   */
  private busyCredit(p: { busyAt: number }): number {
    const busy = this.d.clock.busyMs;
    return busy ? Math.min(MAX_BUSY_CREDIT_MS, Math.max(0, busy() - p.busyAt)) : 0;
  }

  private underWay(now: number): boolean {
    const p = this.pulling;
    if (p === undefined) return false;
    if (p.arrivingAt !== undefined && now - p.arrivingAt < ARRIVING_WAIT_MS) return true;
    return now - p.at < this.pullTimeoutMs() + this.busyCredit(p);
  }

  /**
   * Pulls from a connected peer whose announced state, after the grace period, still holds
   * something we lack, unless a pull is under way; otherwise arms the next check.
   */
  maybePull(): void {
    if (this.stopped) return;
    const now = this.d.clock.now();
    if (this.underWay(now)) {
      this.armCheck(now);
      return;
    }
    this.pulling = undefined;
    const local = docClocks(this.d.doc());
    const due = this.announced.stillMissing(now, local, new Set(this.d.connectedPeers()), this.graceMs());
    const peer = due[0];
    if (peer !== undefined) {
      const sv = this.announced.of(peer);
      this.announced.pulled(peer);
      this.pull(peer, sv !== undefined && missingItems(sv, local) >= BIG_PULL_ITEMS);
      return;
    }
    this.armCheck(now);
  }

  /**
   * Asks `peer` for a diff because its updates arrived with something missing before them.
   * A pull under way (after a heal, the other side's whole diff) will most likely bring what is
   * missing: wait for it instead of asking every sender of a dependent update for a full diff.
   * One pull at a time, repairs included: under load, every sender of an update that depends on
   * something missing would otherwise be asked for a full diff at once.
   */
  repair(peer: string): void {
    const now = this.d.clock.now();
    if (this.underWay(now)) {
      this.repairWanted.add(peer);
      return;
    }
    const last = this.lastRepair.get(peer);
    if (last !== undefined && now - last < this.d.repairMs) return;
    this.lastRepair.set(peer, now);
    this.d.stats.repairs++;
    this.pull(peer);
  }

  /** Runs maybePull() when the next announcement falls due (not before a pull under way times out). */
  private armCheck(now: number): void {
    let at = this.announced.nextDue();
    if (at === undefined) return;
    const p = this.pulling;
    if (p) at = Math.max(at, p.at + this.pullTimeoutMs() + this.busyCredit(p), p.arrivingAt !== undefined ? p.arrivingAt + ARRIVING_WAIT_MS : -Infinity);
    if (this.checkTimer !== undefined) {
      if (this.checkAt <= at) return;
      this.d.clock.clearTimeout(this.checkTimer);
    }
    this.checkAt = at;
    // At least 1 ms: a delay that rounds to nothing on a virtual clock would never move time on.
    this.checkTimer = this.d.clock.setTimeout(() => {
      this.checkTimer = undefined;
      this.maybePull();
    }, Math.max(1, at - now));
  }

  private clearCheck(): void {
    if (this.checkTimer !== undefined) this.d.clock.clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
  }
}
