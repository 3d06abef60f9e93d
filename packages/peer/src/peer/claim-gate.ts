// The gate before a run another peer might start too. A round no task batch gave to this peer
// alone (a bid round, a round assigned from the registry, a round 1 shared with co-assignees) is
// claimed first and run only once every live peer that could run the task has acknowledged the
// claim (its presence says it holds it) and this replica holds everything those peers held when
// they said so. Then any rival claim written before that acknowledgement is here, and one written
// after it was written by a peer that saw ours: the award (a pure function of the claims) names
// one of them the same way on every replica, and only that one runs. A lost message costs a wait,
// never a second run; a peer that stops answering stops counting once its lease lapses (the gate
// then opens as a partition would: a duplicate justified by the cut).

import * as Y from 'yjs';
import { canRun, type TaskSpec } from '@agentmesh/scheduler';
import type { PeerContext } from './context.js';
import type { LiveDocument } from './live-document.js';
import type { EligiblePeer, Liveness } from './liveness.js';
import type { Presence } from './presence.js';

/** What a gated run waits for: the document client of this peer's claim and the clock just past it. */
export interface GateMark {
  client: number;
  clock: number;
}

/**
 * What one look at every gated run shares (Runs.openGates): the peers alive then, and whether this
 * replica holds all each of them held. Both were computed per run, which at 30 peers with many runs
 * gated was a fifth of a peer's time; neither changes during the look.
 */
export interface GateLook {
  alive: EligiblePeer[];
  holds: Map<string, boolean>;
}

export class ClaimGate {
  constructor(
    private readonly ctx: PeerContext,
    private readonly live: LiveDocument,
    private readonly liveness: Liveness,
    private readonly presence: Presence,
    /** Peers the transport is connected to now. */
    private readonly connected: () => Iterable<string>,
  ) {}

  /** Marks everything this peer wrote so far (its claim included) and asks every peer to acknowledge it. */
  mark(): GateMark {
    const doc = this.live.doc;
    const m = { client: doc.clientID, clock: Y.getState(doc.store, doc.clientID) };
    this.presence.requestAck(m.client, m.clock);
    return m;
  }

  /**
   * True once every live peer that can run `spec` acknowledged `mark` and this replica holds what
   * each of them held then. A mark of an earlier generation's document is renewed (the claim was
   * carried into this one): false until the new one is acknowledged.
   */
  open(spec: TaskSpec, mark: GateMark, now: number, look: GateLook): { open: boolean; mark: GateMark } {
    const doc = this.live.doc;
    if (mark.client !== doc.clientID) return { open: false, mark: this.mark() };
    this.presence.requestAck(mark.client, mark.clock);
    const generation = this.live.name;
    const store = doc.store;
    const acked = (peer: string) => {
      const held = this.presence.heldOf(peer, generation);
      if (!held || (held.get(mark.client) ?? 0) < mark.clock) return false;
      let holds = look.holds.get(peer);
      if (holds === undefined) {
        holds = true;
        for (const [client, clock] of held) if (Y.getState(store, client) < clock) holds = false;
        look.holds.set(peer, holds);
      }
      return holds;
    };
    const asked = new Set<string>([this.ctx.id]);
    for (const p of look.alive) {
      asked.add(p.id);
      if (p.id === this.ctx.id || !canRun(spec, p.capabilities)) continue;
      if (!acked(p.id)) return { open: false, mark };
    }
    // A peer connected and alive whose registry entry has not arrived yet (a mesh just started):
    // what it can run is not known here, so it must acknowledge too.
    for (const id of this.connected()) {
      if (asked.has(id) || !this.liveness.isAlive(id, now)) continue;
      if (!acked(id)) return { open: false, mark };
    }
    return { open: true, mark };
  }

  /** The peers alive at `now`, for one look at every gated run. */
  look(now: number): GateLook {
    return { alive: this.liveness.aliveEligiblePeers(now), holds: new Map() };
  }

  /** No run waits at the gate any more: peers need not keep acknowledging. */
  idle(): void {
    this.presence.clearAck();
  }
}
