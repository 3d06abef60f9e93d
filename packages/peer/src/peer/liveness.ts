// Who this peer believes is alive, and whether it sees a majority. Two kinds of evidence: a
// presence whose sequence moved within the lease (presence.ts; it may arrive relayed by a third
// peer) or any message heard directly from it, and messages heard directly over the transport
// alone (what exclusive tasks' quorums rely on). A stall of this peer's own event loop is not
// counted against others (see `stalled`).

import { leaseLapsed, observerLag, quorumOf, type LeasePolicy, type TaskView } from '@agentmesh/scheduler';
import type { SyncEngine } from '../sync/engine.js';
import type { PeerContext } from './context.js';
import type { Presence } from './presence.js';

/** A peer as the shortlist and the award see it. */
export interface EligiblePeer {
  id: string;
  capacity: number;
  capabilities: string[];
}

export class Liveness {
  constructor(
    private readonly ctx: PeerContext,
    private readonly sync: SyncEngine,
    private readonly presence: Presence,
  ) {}

  /** Is `peer` alive as this replica sees it (seen within the lease)? */
  isAlive(peer: string, now = this.ctx.clock.now()): boolean {
    if (peer === this.ctx.id) return !this.ctx.stopped();
    const seen = this.lastSeen(peer);
    return seen !== undefined && now - seen <= this.ctx.timing.lease.leaseMs;
  }

  /** When this replica last saw `peer` alive (its clock): what leases are measured by. */
  lastSeen(peer: string): number | undefined {
    if (peer === this.ctx.id) return this.ctx.clock.now();
    const seen = this.presence.seenAt(peer);
    const heard = this.sync.lastHeardFrom(peer);
    if (seen === undefined) return heard;
    return heard === undefined ? seen : Math.max(seen, heard);
  }

  /**
   * `peer` is alive here and has said so, directly, since it wrote something stamped `at` (its
   * clock), in the same life: evidence that it will run a claim it made then. A peer that
   * restarted since (its claim will not be run by it), or that this replica has not heard from
   * directly since the claim (it may have crashed or been cut off right after it), is not.
   */
  aliveSince(peer: string, at: number, now: number): boolean {
    if (peer === this.ctx.id) return true;
    const said = this.presence.lastDirectAt(peer);
    return this.isAlive(peer, now) && this.presence.incarnationOf(peer) !== undefined && !this.restartedSince(peer, at) && said !== undefined && said >= at;
  }

  /** `peer`'s presence says it started its current life after `at` (both its own clock). */
  private restartedSince(peer: string, at: number): boolean {
    const life = this.presence.incarnationOf(peer);
    return life !== undefined && life > at;
  }

  /**
   * A holder of an earlier round of `v` whose lease a peer other than itself declared lapsed, yet
   * whom this replica still sees alive, in the life it claimed in, within its lease and timeout:
   * it may well be running the task still (the expiry came from a peer cut off from it), so this
   * peer leaves the current round to peers that cannot see it. A holder that restarted since its
   * claim (its presence says so, both times by its own clock) runs nothing: no reason to wait.
   */
  livingExpiredHolder(v: TaskView, timeoutMs: number, now: number): string | undefined {
    for (const h of v.expiredHolders) {
      if (h.peer === this.ctx.id || this.restartedSince(h.peer, h.claimAt)) continue;
      const claimSeenAt = this.ctx.board().seenAt(v.id, 'claim', h.round, h.peer);
      if (!leaseLapsed({ holderLastSeen: this.lastSeen(h.peer), claimSeenAt, timeoutMs }, now, this.ctx.timing.lease)) return h.peer;
    }
    return undefined;
  }

  /**
   * How long this replica typically goes without hearing a peer it heard lately (observerLag), or
   * undefined when it does not hear most of them: then a holder's silence may be this replica's lag,
   * and it expires nobody's rounds. A holder's lease ends here only past the lease plus this lag.
   */
  lag(now: number): number | undefined {
    const seen: (number | undefined)[] = [];
    for (const p of this.ctx.board().peers()) if (p.id !== this.ctx.id) seen.push(this.lastSeen(p.id));
    return observerLag(seen, now, this.ctx.timing.lease);
  }

  /** Peers whose transport link to this one is up (a crashed peer's closes at once; a cut-off one's when pings fail). */
  linkedPeers(): ReadonlySet<string> {
    return new Set(this.sync.connectedPeers());
  }

  /** The lease leases are measured by (its timing adapts to the network: see PeerContext.timing). */
  leasePolicy(): LeasePolicy {
    return this.ctx.timing.lease;
  }

  /** This peer's event loop ran `lateMs` late: a stall no other peer should pay for (see Presence.credit). */
  stalled(lateMs: number): void {
    if (lateMs > 2 * this.ctx.timing.tickMs) this.presence.credit(lateMs);
  }

  /** `peer`'s load (runs, reservations and queued tasks) as it last reported it. */
  loadOf(peer: string): number | undefined {
    return this.presence.stateOf(peer)?.load;
  }

  /** The sender's clock of `peer`'s latest presence heard directly (see Bidding.bestLiveBid). */
  lastDirectAt(peer: string): number | undefined {
    return this.presence.lastDirectAt(peer);
  }

  /** Peers in the registry (at least 1: this one). */
  knownPeers(): number {
    return Math.max(1, this.ctx.board().peers().length);
  }

  /**
   * Known peers (this one included) that this peer heard from directly within `withinMs`. Direct
   * messages, not heartbeats seen in the document: those can arrive relayed, long after they were
   * written, and would make a cut-off peer believe it still sees a majority.
   */
  private freshPeers(now: number, withinMs: number): number {
    let n = 1;
    for (const p of this.ctx.board().peers()) {
      if (p.id === this.ctx.id) continue;
      const heard = this.sync.lastHeardFrom(p.id);
      if (heard !== undefined && now - heard <= withinMs) n++;
    }
    return n;
  }

  /** Does this peer see a majority of the known peers alive (within `withinMs`)? */
  seesMajority(now = this.ctx.clock.now(), withinMs = this.ctx.timing.lease.leaseMs): boolean {
    return this.freshPeers(now, withinMs) >= quorumOf(Math.max(1, this.ctx.board().peers().length));
  }

  /** The peers alive now (this one always), as the shortlist sees them. */
  aliveEligiblePeers(now: number): EligiblePeer[] {
    const self = this.ctx.self;
    const out: EligiblePeer[] = [];
    for (const p of this.ctx.board().peers()) {
      if (p.id === self.id) out.push({ id: p.id, capacity: self.capacity, capabilities: self.capabilities });
      else if (this.isAlive(p.id, now)) out.push({ id: p.id, capacity: p.capacity, capabilities: p.capabilities });
    }
    if (!out.some((p) => p.id === self.id)) out.push({ id: self.id, capacity: self.capacity, capabilities: self.capabilities });
    return out;
  }
}
