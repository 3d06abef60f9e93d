// What every part of a peer shares: its timing, options and events, and the narrow context the
// parts receive instead of the whole Peer (who it is, its clock, timing, logger, the live board,
// how to emit an event and ask for a pass of the main loop).

import type { PeerTrustOptions } from './trust.js';
import type { BackoffPolicy, LeasePolicy, ObjectiveWeights, StrategyName, TaskState, TaskView } from '@agentmesh/scheduler';
import { DEFAULT_BACKOFF, DEFAULT_LEASE } from '@agentmesh/scheduler';
import type { Archive, Storage, TaskBoard } from '@agentmesh/crdt-store';
import type { RolloverPolicy } from './rollover.js';
import type { AgentDefinition, AgentRegistry } from '../agents.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../transport.js';

export interface PeerTiming {
  /** Period of the peer's main loop while it has work (bid windows, claims, runs, writes to flush). */
  tickMs: number;
  /**
   * Period of the main loop while the peer has nothing to do (no unfinished task, no run, nothing
   * to flush): it wakes on the next document update or for its next heartbeat, whichever is first.
   */
  idleTickMs: number;
  /** Period of the full re-evaluation of live tasks (leases, backoff, open bidding). */
  sweepMs: number;
  heartbeatMs: number;
  /** How long a bidder waits for competing bids before it claims. */
  bidWindowMs: number;
  /** Upper bound of the bid window when it stretches to cover a slow network (2 x round trip). */
  maxBidWindowMs: number;
  /** A bid counts as abandoned when its bidder wrote a heartbeat this long past its longest window without claiming. */
  bidStaleMs: number;
  /** A task nobody on its shortlist bid on for this long is open to every eligible peer. */
  openAfterMs: number;
  /** The shortlist's rank-i peer waits i x this before bidding, so rank 1 usually bids alone. */
  staggerMs: number;
  /**
   * After a (re)start, a peer that knows other peers does not bid until it has caught up with one
   * of them (or this long has passed): its disk may be behind, and bidding on a stale board runs
   * tasks that others already claimed or finished.
   */
  catchUpMs: number;
  /** Past this age a pending task is bid on oldest-first by everyone, whatever the ranks. */
  starveAfterMs: number;
  /** Window over which outgoing updates are merged. */
  batchMs: number;
  antiEntropyMs: number;
  /** Minimum time between two gap repairs asked of one peer. */
  repairMs: number;
  /** Group-commit period of the storage. */
  flushMs: number;
  /** Log records after which the storage is compacted into a snapshot. */
  compactEveryRecords: number;
  /** Minimum time between two progress writes of one run. */
  progressMinMs: number;
  /** On graceful stop, how long running tasks get to finish before they are released. */
  drainMs: number;
  lease: LeasePolicy;
  backoff: BackoffPolicy;
}

export const DEFAULT_TIMING: PeerTiming = {
  tickMs: 10,
  idleTickMs: 200,
  sweepMs: 200,
  heartbeatMs: 500,
  bidWindowMs: 15,
  maxBidWindowMs: 500,
  bidStaleMs: 100,
  openAfterMs: 150,
  staggerMs: 40,
  catchUpMs: 2000,
  starveAfterMs: 2000,
  batchMs: 2,
  antiEntropyMs: 1000,
  repairMs: 30,
  flushMs: 10,
  compactEveryRecords: 20_000,
  progressMinMs: 250,
  drainMs: 5000,
  lease: DEFAULT_LEASE,
  backoff: DEFAULT_BACKOFF,
};

export interface PeerOptions {
  id: string;
  name: string;
  /** Tasks per second this peer takes on (the brief's P_i). */
  capacity: number;
  /** Tasks it runs at once. Default 16. */
  concurrency?: number;
  /** Capability tags beyond the agent types it runs. */
  capabilities?: string[];
  agents: AgentRegistry;
  transport: Transport;
  storage: Storage;
  clock: Clock;
  /** This peer's own seed (task ids, Yjs client id). */
  seed: number;
  /** Seed shared by the whole mesh (random strategy, retry jitter). Default 0. */
  meshSeed?: number;
  /** Peers shortlisted per task by weighted rendezvous hashing. Default 2. */
  shortlist?: number;
  defaultStrategy?: StrategyName;
  weights?: ObjectiveWeights;
  timing?: Partial<PeerTiming>;
  logger?: Logger;
  maxMessageBytes?: number;
  /** Where finished tasks go when they leave the live document. Default: in memory. */
  archive?: Archive;
  /** When the live document is replaced by a new generation and what is archived then. */
  rollover?: Partial<RolloverPolicy>;
  /**
   * Signed entries (docs/security.md): this peer's key and how to check others'. The CLI and the
   * simulator always give it; without it nothing is signed or checked.
   */
  trust?: PeerTrustOptions;
}

export type PeerEvents = {
  /** A task changed state as this replica sees it. */
  task: { id: string; state: TaskState; round: number; peer: string | undefined; view: TaskView };
  /** This peer wrote a bid. */
  bid: { id: string; round: number; score: number };
  /** This peer claimed and started a run. */
  'run-start': { id: string; round: number; type: string };
  /** A run of this peer ended. `outcome` aborted means its result was thrown away. */
  'run-end': { id: string; round: number; type: string; outcome: 'done' | 'failed' | 'aborted'; ms: number; error?: string };
  /** An agent of this peer wrote shared data; `seq` is the write's storage sequence. */
  'data-write': { namespace: string; key: string; task: string; seq: number };
  /** Storage made every update up to `seq` durable. */
  durable: { seq: number };
  /** Something remote was rejected (bad update, invalid entry). */
  invalid: { source: string; reason: string };
  /** This peer moved to a new document generation (`peer.document` holds a new doc and board; it raised `replaced`). */
  generation: { name: string; n: number; archived: number; kept: number; startedBy: string; docBytes: number };
  /** A task that came back into the live document without its outcome got it again from the archive. */
  restored: { id: string; entries: number };
};

/** Counters of what this peer did since it started (for status lines and tests). */
export interface PeerCounters {
  done: number;
  failed: number;
  aborted: number;
  dataWrites: number;
  bids: number;
  claims: number;
  expiriesWritten: number;
  /** Tasks that came back into the live document without their outcome and got it again from this peer's archive. */
  restores: number;
}

/** This peer as a bidder sees itself. */
export interface SelfDescription {
  readonly id: string;
  readonly capacity: number;
  readonly concurrency: number;
  readonly capabilities: string[];
}

/** The narrow view of the peer its parts get (no part reaches into another's fields). */
export interface PeerContext {
  readonly id: string;
  readonly name: string;
  readonly clock: Clock;
  readonly timing: PeerTiming;
  readonly log: Logger;
  /** Seed shared by the whole mesh (random strategy, retry jitter). */
  readonly meshSeed: number;
  readonly self: SelfDescription;
  readonly counters: PeerCounters;
  /** The live board: it changes at each generation change, so ask for it each time. */
  board(): TaskBoard;
  emit<K extends keyof PeerEvents>(event: K, e: PeerEvents[K]): void;
  /** Someone listens to this event (skip building an event nobody reads). */
  listens(event: keyof PeerEvents): boolean;
  /** Asks for a pass of the main loop on the next timer turn. */
  processSoon(): void;
  /** The peer stopped (or crashed): parts do nothing more. */
  stopped(): boolean;
  /** The peer neither bids nor writes heartbeats (draining, or the simulator's final check). */
  quiet(): boolean;
}

/** A peer's capability tags: the agent types it runs, their declared capabilities and extra tags, sorted. */
export function capabilitiesOf(agents: ReadonlyMap<string, AgentDefinition>, extra: readonly string[] = []): string[] {
  const caps = new Set<string>(extra);
  for (const [type, def] of agents) {
    caps.add(type);
    for (const c of def.capabilities ?? []) caps.add(c);
  }
  return [...caps].sort();
}
