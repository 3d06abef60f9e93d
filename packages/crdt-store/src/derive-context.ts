// The one place a replica's board becomes a DeriveContext for the pure lifecycle rules: when this
// replica first saw the task and each fact, and when it last saw each peer's heartbeat change.
// The peer, its status and the dashboard all derive tasks through it.

import type { BackoffPolicy, DeriveContext, LeasePolicy, RoundCandidate, TaskState } from '@agentmesh/scheduler';
import type { TaskBoard } from './board.js';

export interface BoardDeriveOptions {
  now: number;
  lease: LeasePolicy;
  backoff: BackoffPolicy;
  /** Mesh-wide seed (retry jitter). */
  seed: number;
  /** State of another task (dependencies). */
  depState: (id: string) => TaskState | undefined;
  /** The observing peer: it is alive now as far as it is concerned. */
  self?: string;
  /** When the observer last saw each peer alive (default: the heartbeats in the document). */
  lastSeen?: (peer: string) => number | undefined;
  /** Peers in the registry, when exclusive claims' quorums matter. */
  knownPeers?: number;
  /** The registry's peers, who may be assigned rounds no batch assigned (see DeriveContext.candidates). */
  candidates?: readonly RoundCandidate[];
}

/** The derive context of task `id` as `board`'s replica sees it. */
export function boardDeriveContext(board: TaskBoard, id: string, o: BoardDeriveOptions): DeriveContext {
  const { now, self } = o;
  return {
    now,
    taskSeenAt: board.taskSeenAt(id),
    seenAt: (kind, round, peer) => board.seenAt(id, kind, round, peer),
    lastSeen: o.lastSeen ?? (self === undefined ? (peer) => board.beatSeenAt(peer) : (peer) => (peer === self ? now : board.beatSeenAt(peer))),
    depState: o.depState,
    lease: o.lease,
    backoff: o.backoff,
    seed: o.seed,
    ...(o.knownPeers === undefined ? {} : { knownPeers: o.knownPeers }),
    ...(o.candidates === undefined ? {} : { candidates: o.candidates }),
  };
}
