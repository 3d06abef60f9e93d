// The transport-agnostic peer: it joins the document, registers itself, watches the board, bids,
// claims by the deterministic award, runs tasks through agent handlers, writes progress and
// results, keeps its leases alive with heartbeats, re-bids tasks whose lease lapsed, and lets the
// lifecycle rules settle every task to one canonical result after partitions heal.
// Clock, seed, transport and storage are injected: the same class runs in the simulator and for real.

import * as Y from 'yjs';
import {
  quorumOf,
  DEFAULT_BACKOFF,
  DEFAULT_LEASE,
  DEFAULT_WEIGHTS,
  MeshError,
  TASK_STATES,
  canRun,
  compareBids,
  createRng,
  deriveTask,
  isTerminal,
  makeBid,
  newBucket,
  refill,
  shortlist,
  tryTake,
  unitHash,
  type BackoffPolicy,
  type Bid,
  type LeasePolicy,
  type ObjectiveWeights,
  type Rng,
  type StrategyName,
  type TaskSpec,
  type TaskState,
  type TaskView,
  type TokenBucket,
  type Vote,
} from '@agentmesh/scheduler';
import {
  GENESIS,
  MemoryArchive,
  TaskBoard,
  compareGenerations,
  encodeGeneration,
  factsFromRecord,
  jsonSize,
  parseGeneration,
  LIMITS,
  type Archive,
  type ArchiveCounts,
  type ArchiveRecord,
  type BoardChange,
  type Generation,
  type InvalidEntry,
  type Storage,
} from '@agentmesh/crdt-store';
import { DEFAULT_ROLLOVER, archiveRecord, dropSet, keepFor, splitTasks, type RolloverPolicy } from './generations.js';
import { agentDefinition, type AgentContext, type AgentDefinition, type AgentRegistry } from './agents.js';
import type { Clock, TimerId } from './clock.js';
import { silentLogger, type Logger } from './logger.js';
import { GENESIS_NAME, MeshOrigin, STORAGE_ORIGIN, SYNC_STEP2, SyncEngine, checkUpdate } from './sync.js';
import { buildTaskSpec, type TaskInput } from './task-input.js';
import type { Transport } from './transport.js';
import { TypedEmitter } from './emitter.js';

export interface PeerTiming {
  /** Period of the peer's main loop (bid windows, claims). */
  tickMs: number;
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
}

export type PeerEvents = {
  /** A task changed state as this replica sees it. */
  task: { id: string; state: TaskState; round: number; peer: string | undefined; view: TaskView };
  /** This peer wrote a bid. */
  bid: { id: string; round: number; score: number };
  /** This peer claimed and started a run. */
  'run-start': { id: string; round: number; type: string };
  /** A run of this peer ended. `outcome` aborted means its result was thrown away. */
  'run-end': { id: string; round: number; outcome: 'done' | 'failed' | 'aborted'; ms: number; error?: string };
  /** An agent of this peer wrote shared data; `seq` is the write's storage sequence. */
  'data-write': { namespace: string; key: string; task: string; seq: number };
  /** Storage made every update up to `seq` durable. */
  durable: { seq: number };
  /** Something remote was rejected (bad update, invalid entry). */
  invalid: { source: string; reason: string };
  /** This peer moved to a new document generation (`peer.doc` and `peer.board` are new objects). */
  generation: { name: string; n: number; archived: number; kept: number; startedBy: string; docBytes: number };
  /** A task that came back into the live document without its outcome got it again from the archive. */
  restored: { id: string; entries: number };
};

interface Run {
  id: string;
  round: number;
  startedAt: number;
  controller: AbortController;
  /** Set when the run must not write its outcome. */
  discard: string | undefined;
  timer: TimerId | undefined;
  lastProgressAt: number;
}

export interface StatusPeer {
  name: string;
  peerId: string;
  capacity: number;
  load: number;
  alive: boolean;
}

export interface PeerStatus {
  peers: StatusPeer[];
  /** Every task this peer knows, by state: the live document's and the archived ones (each once). */
  tasks: Record<TaskState, number>;
  duplicateRuns: number;
  /** Finished tasks in this peer's archive (no longer in the live document). */
  archived: ArchiveCounts;
  /** The live document's generation. */
  generation: { n: number; name: string };
}

const Y_CLIENT_MAX = 0xffffffff;

export class Peer extends TypedEmitter<PeerEvents> {
  readonly id: string;
  readonly name: string;
  /** The live document (replaced at each generation change: do not keep a reference to it). */
  doc: Y.Doc;
  /** The typed board over `doc` (replaced with it). */
  board: TaskBoard;
  readonly sync: SyncEngine;
  readonly archive: Archive;
  readonly rollover: RolloverPolicy;
  readonly timing: PeerTiming;
  readonly capabilities: string[];
  capacity: number;
  readonly concurrency: number;

  private readonly clock: Clock;
  private readonly storage: Storage;
  private readonly log: Logger;
  private readonly rng: Rng;
  private readonly meshSeed: number;
  private readonly k: number;
  private readonly defaultStrategy: StrategyName;
  private readonly weights: ObjectiveWeights;
  private readonly agents = new Map<string, AgentDefinition>();

  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly reserved = new Set<string>();
  /** When this peer bid on each reserved task (its clock). */
  private readonly bidAt = new Map<string, number>();
  /** Exclusive tasks this peer claimed and that wait for a quorum of votes: task -> round. */
  private readonly awaiting = new Map<string, number>();
  /** The pending pool sorted by priority and age, rebuilt now and then (see processOnce). */
  private poolOrder: { at: number; list: TaskSpec[] } | undefined;
  /** Live tasks that were pending (no claim, no bid of ours) when last evaluated. */
  private readonly pendingPool = new Set<string>();
  private readonly running = new Map<string, Run>();
  private readonly lastState = new Map<string, TaskState>();
  /** Duplicate runs of each task as last derived (for status()). */
  private readonly dupCount = new Map<string, number>();
  private bucket: TokenBucket;
  private started = false;
  private stopped = false;
  private quiet = false;
  private tickTimer: TimerId | undefined;
  private soonTimer: TimerId | undefined;
  private lastSweep = -Infinity;
  private lastBeat = -Infinity;
  private lastFlush = -Infinity;
  private beatSeq = 0;
  private writeSeq = 0;
  private durableSeq = 0;
  private flushing: Promise<void> | undefined;
  private processing = false;
  /** Recent event-loop lag, ms (decaying maximum of how late the tick timer fired). */
  private loopLag = 0;
  private startedAt = 0;
  /** What the storage repaired when this peer loaded it (cut tails, snapshots moved aside). */
  loadWarnings: string[] = [];
  private caughtUp = false;
  private gen: Generation = GENESIS;
  /** Bytes of updates since the generation began (an upper estimate of the encoded document). */
  private genBytes = 0;
  private genStartedAt = 0;
  /** When this peer last moved to a new generation (-Infinity: not since it started). */
  private genEnteredAt = -Infinity;
  private lastRolloverCheck = -Infinity;
  private rolloverDueSince: number | undefined;
  /** A later generation we asked a peer for (its whole document, the base of ours). */
  private pendingGen: { name: string; gen: Generation; from: string; askedAt: number } | undefined;
  /** Task ids new to this replica that the archive may know (see `restoreFromArchive`). */
  private readonly toCheck = new Set<string>();
  /** Chain of archive writes and compactions after generation changes. */
  private genWork: Promise<void> = Promise.resolve();
  /** Yjs client ids of earlier generations' documents: updates carrying them are stale. */
  readonly retiredClients = new Set<number>();
  private readonly onDocUpdate = (u: Uint8Array, origin: unknown) => {
    this.genBytes += u.byteLength;
    if (origin === STORAGE_ORIGIN || this.stopped) return;
    this.storage.append(u);
    this.writeSeq++;
  };
  private unsubscribeBoard: (() => void) | undefined;
  readonly counters = { done: 0, failed: 0, aborted: 0, dataWrites: 0, bids: 0, claims: 0, expiriesWritten: 0 };

  constructor(opts: PeerOptions) {
    super();
    if (!(opts.capacity > 0) || !Number.isFinite(opts.capacity)) throw new MeshError('INVALID_ARGUMENT', `capacity must be a positive number, got ${opts.capacity}`);
    const concurrency = opts.concurrency ?? 16;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new MeshError('INVALID_ARGUMENT', `concurrency must be a positive integer, got ${concurrency}`);
    this.id = opts.id;
    this.name = opts.name;
    this.capacity = opts.capacity;
    this.concurrency = concurrency;
    this.clock = opts.clock;
    this.storage = opts.storage;
    this.log = opts.logger ?? silentLogger;
    this.rng = createRng(opts.seed);
    this.meshSeed = opts.meshSeed ?? 0;
    this.k = opts.shortlist ?? 2;
    this.defaultStrategy = opts.defaultStrategy ?? 'capacity-weighted';
    this.weights = opts.weights ?? DEFAULT_WEIGHTS;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    for (const [type, a] of Object.entries(opts.agents)) this.agents.set(type, agentDefinition(a));
    const caps = new Set<string>(opts.capabilities ?? []);
    for (const [type, def] of this.agents) {
      caps.add(type);
      for (const c of def.capabilities ?? []) caps.add(c);
    }
    this.capabilities = [...caps].sort();
    this.bucket = newBucket(this.clock.now(), this.burst());

    this.archive = opts.archive ?? new MemoryArchive();
    this.rollover = { ...DEFAULT_ROLLOVER, ...opts.rollover };
    this.doc = this.newDoc();
    this.board = this.newBoard(this.doc);
    this.sync = new SyncEngine(this.doc, opts.transport, {
      clock: this.clock,
      batchMs: this.timing.batchMs,
      antiEntropyMs: this.timing.antiEntropyMs,
      repairMs: this.timing.repairMs,
      maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024 * 1024,
      onInvalid: (from, reason) => {
        this.log.log('warn', 'rejected update', { from, reason });
        this.emit('invalid', { source: from, reason });
      },
      compareGenerations: (a, b) => {
        const ga = parseGeneration(a);
        const gb = parseGeneration(b);
        if (!ga || !gb) return 0;
        return compareGenerations(ga, gb);
      },
      onOtherGeneration: (from, name, sub, payload) => this.onLaterGeneration(from, name, sub, payload),
    });
  }

  private newDoc(): Y.Doc {
    const doc = new Y.Doc();
    // A fresh client id for every document and every start: reusing one after a crash could
    // collide with updates that left this peer but never reached its disk.
    doc.clientID = 1 + Math.floor(this.rng.next() * (Y_CLIENT_MAX - 1));
    return doc;
  }

  private newBoard(doc: Y.Doc): TaskBoard {
    return new TaskBoard(doc, { now: () => this.clock.now(), onInvalid: (e) => this.reportInvalid(e) });
  }

  private burst(): number {
    // At least 2: the loop looks at the bucket once per tick, and a bucket capped at 1 would
    // waste the part of a token that accrues between a refill and the next tick.
    return Math.max(2, Math.min(this.concurrency, Math.ceil(this.capacity / 10)));
  }

  private reportInvalid(e: InvalidEntry): void {
    this.log.log('warn', 'ignored invalid entry', { ...e });
    this.emit('invalid', { source: `${e.map}/${e.key}`, reason: e.reason });
  }

  /** Loads storage, registers, starts syncing and working. */
  async start(): Promise<void> {
    if (this.started) throw new MeshError('INVALID_ARGUMENT', 'peer already started');
    this.started = true;
    let done!: () => void;
    this.ready = new Promise<void>((r) => (done = r));
    try {
      await this.startInner();
    } finally {
      done();
    }
  }

  /**
   * Resolves once start() has loaded the storage and hooked the document to it. Writes made
   * before that would reach neither the log nor the mesh, so the public writers wait for it.
   */
  private ready: Promise<void> = Promise.resolve();

  private async startInner(): Promise<void> {
    const loaded = await this.storage.load();
    // The storage reports damage through its own log as it repairs it; keep the list for callers.
    this.loadWarnings = loaded.warnings;
    const replay = (u: Uint8Array, what: string) => {
      try {
        Y.applyUpdate(this.doc, u, STORAGE_ORIGIN);
      } catch (e) {
        this.log.log('warn', `skipped unreadable ${what} from storage`, { error: (e as Error).message });
      }
    };
    // A generation change logs the whole new document behind a marker; what came before it in the
    // log belongs to the old generation (until a compaction removes it) and is skipped.
    let from = 0;
    for (let i = loaded.updates.length - 1; i >= 0; i--) {
      if (isGenerationRecord(loaded.updates[i]!)) {
        from = i;
        break;
      }
    }
    const marked = from > 0 || (loaded.updates[0] !== undefined && isGenerationRecord(loaded.updates[0]));
    if (loaded.snapshot && !marked) replay(loaded.snapshot, 'snapshot');
    for (const u of loaded.updates.slice(from)) replay(isGenerationRecord(u) ? u.subarray(GENERATION_RECORD.length) : u, 'update');
    this.gen = this.board.generation();
    this.sync.generation = this.gen.n === 0 ? GENESIS_NAME : encodeGeneration(this.gen);
    this.genBytes = loaded.snapshot?.byteLength ?? 0;
    for (const u of loaded.updates) this.genBytes += u.byteLength;
    this.doc.on('update', this.onDocUpdate);
    this.unsubscribeBoard = this.board.onChange((c) => this.onBoardChange(c));
    this.board.initMeta();
    this.board.registerPeer({
      id: this.id,
      name: this.name,
      capabilities: this.capabilities,
      capacity: this.capacity,
      concurrency: this.concurrency,
      startedAt: this.clock.now(),
    });
    for (const id of this.board.taskIds()) this.dirty.add(id);
    this.startedAt = this.genStartedAt = this.clock.now();
    this.caughtUp = !this.board.peers().some((p) => p.id !== this.id);
    this.heartbeat();
    this.sync.start();
    this.log.log('info', 'peer started', { id: this.id, tasks: this.board.taskCount, replayed: loaded.updates.length + (loaded.snapshot ? 1 : 0) });
    this.scheduleTick();
    this.processSoon();
  }

  private onBoardChange(c: BoardChange): void {
    for (const id of c.tasks) {
      this.dirty.add(id);
      if (!c.local && !this.lastState.has(id) && this.archive.mightHave(id)) this.toCheck.add(id);
    }
    // A dependency that changed may unblock its dependents; they are found by the periodic sweep.
    if (c.tasks.size > 0 && !c.local) this.processSoon();
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    const due = this.clock.now() + this.timing.tickMs;
    this.tickTimer = this.clock.setTimeout(() => {
      // How late this timer fired: a starved process handles its messages just as late, so the
      // bid window and the stagger stretch to cover it (decaying maximum).
      this.loopLag = Math.max(Math.max(0, this.clock.now() - due), this.loopLag * 0.95);
      this.tick();
      this.scheduleTick();
    }, this.timing.tickMs);
  }

  private processSoon(): void {
    if (this.stopped || this.soonTimer !== undefined) return;
    this.soonTimer = this.clock.setTimeout(() => {
      this.soonTimer = undefined;
      this.process();
    }, 0);
  }

  /** One turn of the main loop: heartbeat, storage group commit, bidding and claiming. */
  tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    if (!this.quiet && now - this.lastBeat >= this.timing.heartbeatMs) this.heartbeat();
    this.fenceExclusiveRuns(now);
    this.restoreFromArchive();
    this.process();
    this.maybeRollover(now);
    if (now - this.lastFlush >= this.timing.flushMs && this.durableSeq < this.writeSeq) {
      this.lastFlush = now;
      void this.flush().catch((e) => this.log.log('error', 'storage flush failed', { error: (e as Error).message }));
    }
  }

  /** An exclusive run whose holder no longer sees a majority is aborted, before the majority expires its lease. */
  private fenceExclusiveRuns(now: number): void {
    let majority: boolean | undefined;
    for (const run of [...this.running.values()]) {
      if (!this.board.getSpec(run.id)?.exclusive) continue;
      majority ??= this.seesMajority(now, this.timing.lease.leaseMs / 2);
      if (!majority) this.abortRun(run, 'lost sight of a majority of peers (exclusive task)');
    }
  }

  private heartbeat(): void {
    const now = this.clock.now();
    this.lastBeat = now;
    this.board.heartbeat(this.id, {
      at: now,
      seq: ++this.beatSeq,
      load: this.running.size + this.reserved.size,
      running: this.running.size,
      done: this.counters.done,
      dataWrites: this.counters.dataWrites,
    });
  }

  /** Makes every update so far durable; resolves when it is on disk. */
  async flush(): Promise<void> {
    const target = this.writeSeq;
    while (this.durableSeq < target) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const upTo = this.writeSeq;
      this.flushing = this.storage.flush().then(() => {
        if (upTo > this.durableSeq) {
          this.durableSeq = upTo;
          this.emit('durable', { seq: upTo });
        }
      });
      try {
        await this.flushing;
      } finally {
        this.flushing = undefined;
      }
      if (!this.stopped && this.storage.stats().logRecords >= this.timing.compactEveryRecords) await this.compact();
    }
  }

  /** Folds the update log into one snapshot of the whole document. */
  async compact(): Promise<void> {
    await this.storage.compact(Y.encodeStateAsUpdate(this.doc));
  }

  /** The storage sequence of the latest update (for durability tracking). */
  get lastWriteSeq(): number {
    return this.writeSeq;
  }

  get lastDurableSeq(): number {
    return this.durableSeq;
  }

  // ---- lifecycle view ------------------------------------------------------------------------------

  /** Is `peer` alive as this replica sees it (its heartbeat changed within the lease)? */
  isAlive(peer: string, now = this.clock.now()): boolean {
    if (peer === this.id) return !this.stopped;
    const seen = this.board.beatSeenAt(peer);
    return seen !== undefined && now - seen <= this.timing.lease.leaseMs;
  }

  /** Derives a task's view as this replica sees it now. */
  view(id: string, now = this.clock.now()): TaskView | undefined {
    const facts = this.board.getFacts(id);
    if (!facts) return undefined;
    return this.derive(id, facts, now, new Map());
  }

  private derive(id: string, facts: NonNullable<ReturnType<TaskBoard['getFacts']>>, now: number, memo: Map<string, TaskState | undefined>, depth = 0): TaskView {
    return deriveTask(facts, {
      now,
      taskSeenAt: this.board.taskSeenAt(id),
      seenAt: (kind, round, peer) => this.board.seenAt(id, kind, round, peer),
      lastSeen: (peer) => (peer === this.id ? now : this.board.beatSeenAt(peer)),
      depState: (dep) => {
        if (memo.has(dep)) return memo.get(dep);
        const f = this.board.getFacts(dep);
        memo.set(dep, undefined); // cycle guard
        const st = f ? (depth < 64 ? this.derive(dep, f, now, memo, depth + 1).state : undefined) : this.archive.get(dep)?.state;
        memo.set(dep, st);
        return st;
      },
      lease: this.timing.lease,
      backoff: this.timing.backoff,
      seed: this.meshSeed,
      knownPeers: Math.max(1, this.board.peers().length),
    });
  }

  // ---- the main loop -------------------------------------------------------------------------------

  /** Evaluates changed tasks (all live tasks on a sweep): expire lapsed leases, bid, claim, run. */
  process(): void {
    if (this.stopped || this.processing) return;
    this.processing = true;
    try {
      this.processOnce();
    } finally {
      this.processing = false;
    }
  }

  private processOnce(): void {
    const now = this.clock.now();
    if (!this.caughtUp && (this.sync.syncedWith.size > 0 || now - this.startedAt >= this.timing.catchUpMs)) {
      this.caughtUp = true;
      this.log.log('debug', 'caught up', { with: [...this.sync.syncedWith], afterMs: now - this.startedAt });
    }
    const settling = this.settling(now);
    const sweep = now - this.lastSweep >= this.timing.sweepMs;
    if (sweep) this.lastSweep = now;
    const ids = new Set<string>(this.dirty);
    this.dirty.clear();
    // A bid of ours is looked at again when its window has passed (or when its task changed).
    const window = this.bidWindow();
    for (const id of this.reserved) if (sweep || now - (this.bidAt.get(id) ?? -Infinity) >= window) ids.add(id);
    // The sweep re-derives what time alone can change (leases, claims waiting for votes); pending
    // tasks without a bid of ours are looked at from the pool when a slot is free.
    if (sweep) for (const id of this.active) if (!this.pendingPool.has(id) || (this.board.getSpec(id)?.dependsOn.length ?? 0) > 0) ids.add(id);
    if (ids.size === 0 && (this.pendingPool.size === 0 || this.freeSlots() <= 0)) return;

    // One transaction for the whole pass: its claims, expiries, votes and bids go out as one update.
    this.board.transact(() => this.evaluate(ids, now, settling));
  }

  /** The body of one pass of the main loop (see processOnce). */
  private evaluate(ids: Set<string>, now: number, settling: boolean): void {
    const memo = new Map<string, TaskState | undefined>();
    const candidates: { view: TaskView; spec: TaskSpec }[] = [];
    let alivePeers: { id: string; capacity: number; capabilities: string[] }[] | undefined;
    const expiries: [string, number][] = [];
    const votes: [string, Vote][] = [];

    for (const id of ids) {
      const facts = this.board.getFacts(id);
      if (!facts) continue;
      const v = this.derive(id, facts, now, memo);
      memo.set(id, v.state);
      this.noteState(id, v);
      const run = this.running.get(id);
      this.pendingPool.delete(id);
      if (isTerminal(v.state)) {
        this.active.delete(id);
        this.release(id);
        if (run && v.state === 'cancelled') this.abortRun(run, 'cancelled');
        continue;
      }
      this.active.add(id);
      if (run && v.claim && v.claim.round === run.round && v.claim.peer !== this.id) {
        // Another peer's claim of the same round won the award: stop ours.
        this.abortRun(run, `claim of round ${run.round} went to ${v.claim.peer}`);
      }
      if (facts.spec.exclusive && this.handleExclusive(id, facts.spec, v, now, expiries, votes)) continue;
      if (v.state === 'running' && v.claim) {
        this.release(id);
        if (v.claim.peer === this.id && !this.running.has(id) && !this.outcomeIds.has(id)) {
          // Our own claim from before a restart: nobody runs it, release it at once.
          expiries.push([id, v.round]);
        } else if (v.lapsed && v.claim.peer !== this.id) {
          expiries.push([id, v.round]);
        }
        continue;
      }
      // pending or claimed (bids in, award under way)
      const mine = v.bids.find((b) => b.peer === this.id);
      if (mine && mine.at < this.startedAt) {
        // A bid of this peer's previous life: nothing is reserved for it, so it is never claimed.
        // Its key blocks a new bid in this round; others pass it by once it is stale.
        this.release(id);
        continue;
      }
      if (mine) {
        const waited = now - this.board.seenAt(id, 'bid', v.round, this.id);
        if (waited < this.bidWindow()) continue;
        if (settling) continue; // bids of peers still moving to this generation may be on their way
        const best = this.bestLiveBid(v, now);
        if (best?.peer === this.id && !this.quiet && this.caughtUp && (this.reserved.has(id) || this.freeSlots() > 0)) {
          this.claimAndRun(id, facts.spec, v, best);
        } else {
          this.release(id);
        }
        continue;
      }
      if (this.running.has(id)) continue;
      this.pendingPool.add(id);
      candidates.push({ view: v, spec: facts.spec });
    }
    // Free capacity: also look at pending tasks not evaluated in this pass, best first.
    if (!this.quiet && this.freeSlots() > 0 && this.pendingPool.size > candidates.length) {
      const want = this.freeSlots() * 4;
      // The pool's order is rebuilt at most every few ticks: sorting a large backlog on every
      // pass (each remote change triggers one) would starve the event loop. Tasks that arrived
      // since are candidates anyway (they were dirty).
      if (!this.poolOrder || now - this.poolOrder.at >= POOL_ORDER_MS) {
        const list = [...this.pendingPool].map((id) => this.board.getSpec(id)).filter((s): s is TaskSpec => s !== undefined);
        list.sort(byPriorityThenAge);
        this.poolOrder = { at: now, list };
      }
      // Only tasks this peer may bid on now count; the scan is bounded per pass.
      const stagger = this.stagger();
      let ranksReady = false;
      let taken = 0;
      let scanned = 0;
      for (const spec of this.poolOrder.list) {
        if (taken >= want || scanned >= want * 8 + 64) break;
        if (ids.has(spec.id) || !this.pendingPool.has(spec.id) || !canRun(spec, this.capabilities)) continue;
        scanned++;
        const facts = this.board.getFacts(spec.id);
        if (!facts) continue;
        const v = this.derive(spec.id, facts, now, memo);
        if (v.state !== 'pending' && v.state !== 'claimed') {
          this.dirty.add(spec.id);
          continue;
        }
        if (v.bids.some((b) => b.peer === this.id)) continue;
        if (now < v.eligibleAt || v.blockedBy.length > 0) continue;
        const waited = now - v.roundOpenedAt;
        if (waited < this.timing.openAfterMs) {
          alivePeers ??= this.aliveEligiblePeers(now);
          if (!ranksReady) {
            this.useRankCache(alivePeers);
            ranksReady = true;
          }
          const r = this.rankOf(spec, v.round, alivePeers);
          if (r < 0 || r >= this.k || waited < r * stagger) continue;
        }
        candidates.push({ view: v, spec });
        taken++;
      }
    }

    if (votes.length > 0) {
      this.board.transact(() => {
        for (const [id, vote] of votes) this.board.putVote(id, vote);
      });
    }
    if (expiries.length > 0) {
      this.board.transact(() => {
        for (const [id, round] of expiries) {
          if (this.board.putExpiry(id, { round, by: this.id, at: now })) {
            this.counters.expiriesWritten++;
            this.log.log('info', 'lease expired', { task: id, round });
          }
        }
      });
    }
    if (candidates.length > 0 && !this.quiet && this.caughtUp && !settling) this.bid(candidates, now, () => (alivePeers ??= this.aliveEligiblePeers(now)));
  }

  /**
   * How long a bidder waits for competing bids: the configured window, stretched to twice the
   * measured round trip and three times the recent event-loop lag, so that on a slow network or a
   * starved machine a rival's bid arrives before the award.
   */
  bidWindow(): number {
    return Math.min(this.timing.maxBidWindowMs, Math.max(this.timing.bidWindowMs, 2 * this.sync.maxRtt(), 3 * this.loopLag));
  }

  /**
   * A bid reserves a run slot and a token of the rate bucket at once, so a peer never commits to
   * more than `capacity` tasks/s however long its bids wait; a bid that loses gives the token back.
   */
  private reserve(id: string): void {
    this.bidAt.set(id, this.clock.now());
    if (this.reserved.has(id)) return;
    this.bucket = tryTake(refill(this.bucket, this.clock.now(), this.capacity, this.burst()), this.clock.now(), this.capacity, this.burst()).bucket;
    this.reserved.add(id);
  }

  /** Gives up a reservation that did not become a run, with its token. */
  private release(id: string): void {
    this.bidAt.delete(id);
    if (!this.reserved.delete(id)) return;
    this.bucket = { ...this.bucket, tokens: Math.min(this.burst(), this.bucket.tokens + 1) };
  }

  private freeSlots(): number {
    return this.concurrency - this.running.size - this.reserved.size;
  }

  private aliveEligiblePeers(now: number): { id: string; capacity: number; capabilities: string[] }[] {
    const out: { id: string; capacity: number; capabilities: string[] }[] = [];
    for (const p of this.board.peers()) {
      if (p.id === this.id) out.push({ id: p.id, capacity: this.capacity, capabilities: this.capabilities });
      else if (this.isAlive(p.id, now)) out.push({ id: p.id, capacity: p.capacity, capabilities: p.capabilities });
    }
    if (!out.some((p) => p.id === this.id)) out.push({ id: this.id, capacity: this.capacity, capabilities: this.capabilities });
    return out;
  }

  /**
   * The best bid of the current round whose bidder is alive and has not given up on it. A bidder
   * has given up when a heartbeat it wrote well after its bid (both stamped by its own clock, so no
   * skew) has arrived with no claim: its updates arrive in order, so a claim written before that
   * heartbeat would be here. Evidence, not elapsed time: a stalled process does not expire bids.
   */
  private bestLiveBid(v: TaskView, now: number): Bid | undefined {
    for (const b of v.bids) {
      if (b.peer === this.id) return b;
      if (!this.isAlive(b.peer, now)) continue;
      const beat = this.board.beat(b.peer);
      if (beat && beat.at - b.at > this.timing.maxBidWindowMs + this.timing.bidStaleMs) continue;
      return b;
    }
    return undefined;
  }

  /** Timing the peer adapts to the network and its own load (for diagnostics). */
  timingNow(): { bidWindowMs: number; staggerMs: number; maxRttMs: number; loopLagMs: number; running: number; reserved: number; pendingPool: number } {
    return { bidWindowMs: this.bidWindow(), staggerMs: this.stagger(), maxRttMs: this.sync.maxRtt(), loopLagMs: this.loopLag, running: this.running.size, reserved: this.reserved.size, pendingPool: this.pendingPool.size };
  }

  /** How long the rank-i peer of a shortlist waits per rank: stretched to cover a slow network. */
  private stagger(): number {
    return Math.min(this.timing.maxBidWindowMs, Math.max(this.timing.staggerMs, 2 * this.sync.maxRtt(), 3 * this.loopLag));
  }

  /** Keeps the shortlist rank cache while the alive peers (and their capacities and capabilities) stay the same. */
  private useRankCache(all: { id: string; capacity: number; capabilities: string[] }[]): void {
    const sig = all.map((p) => `${p.id}:${p.capacity}:${p.capabilities.join('+')}`).join(',');
    if (this.rankCache.sig !== sig) this.rankCache = { sig, ranks: new Map() };
  }

  /** This peer's rank on a task's shortlist, cached while the alive peers stay the same (see useRankCache). */
  private rankOf(spec: TaskSpec, round: number, all: { id: string; capacity: number; capabilities: string[] }[]): number {
    const key = `${spec.id}/${round}`;
    let r = this.rankCache.ranks.get(key);
    if (r === undefined) {
      const eligible = all.filter((p) => canRun(spec, p.capabilities));
      r = shortlist(spec.id, round, eligible, this.k).indexOf(this.id);
      if (this.rankCache.ranks.size > 50_000) this.rankCache.ranks.clear();
      this.rankCache.ranks.set(key, r);
    }
    return r;
  }

  private rankCache: { sig: string; ranks: Map<string, number> } = { sig: '', ranks: new Map() };

  private bid(candidates: { view: TaskView; spec: TaskSpec }[], now: number, peers: () => { id: string; capacity: number; capabilities: string[] }[]): void {
    // No free slot or no token: nothing to rank (most passes under a backlog).
    this.bucket = refill(this.bucket, now, this.capacity, this.burst());
    if (this.freeSlots() <= 0 || this.bucket.tokens < 1) return;
    // Rank of this peer on each task's shortlist (0 = first choice, k = not listed, the task is open).
    const all = peers();
    this.useRankCache(all);
    const ranked = candidates.map((c) => {
      const rank = this.rankOf(c.spec, c.view.round, all);
      const age = now - c.view.roundOpenedAt;
      return { ...c, rank: rank < 0 ? this.k : rank, starving: age >= this.timing.starveAfterMs, ageBucket: Math.floor(age / AGE_BUCKET_MS), spread: unitHash(c.spec.id, this.id) };
    });
    // Priority first; then (unless a task is starving) tasks where this peer is the first choice,
    // so peers work disjoint sets in a burst; then older first, in coarse age buckets, and within a
    // bucket in an order of this peer's own (a hash), so free peers spread over a backlog instead
    // of all racing for the one oldest task.
    ranked.sort(
      (a, b) =>
        b.spec.priority - a.spec.priority ||
        (a.starving === b.starving ? 0 : a.starving ? -1 : 1) ||
        (a.starving ? 0 : a.rank - b.rank) ||
        b.ageBucket - a.ageBucket ||
        a.spread - b.spread,
    );
    this.bucket = refill(this.bucket, now, this.capacity, this.burst());
    const stagger = this.stagger();
    const bids: [string, Bid][] = [];
    const fast: { spec: TaskSpec; round: number; bid: Bid }[] = [];
    for (const { view: v, spec, rank } of ranked) {
      if (this.freeSlots() <= 0) break;
      if (this.bucket.tokens < 1) break;
      if (now < v.eligibleAt || v.blockedBy.length > 0) continue;
      if (!canRun(spec, this.capabilities)) continue;
      const waited = now - v.roundOpenedAt;
      const open = waited >= this.timing.openAfterMs;
      if (!open && (rank >= this.k || waited < rank * stagger)) continue;
      const bid = makeBid(spec.strategy, spec, { id: this.id, capabilities: this.capabilities, capacity: this.capacity, concurrency: this.concurrency, load: this.running.size + this.reserved.size }, {
        round: v.round,
        at: now,
        seed: this.meshSeed,
        weights: this.weights,
      });
      if (!bid) continue;
      if (!spec.exclusive && rank === 0 && v.bids.length === 0 && waited < stagger && v.round === 1 && now - spec.createdAt < stagger) {
        // Fast path: the first choice claims at once (no bid window, no second message) while
        // nobody else may bid yet: the others wait `stagger` from when they saw the task. The age
        // check against the creator's clock guards against having seen the task late; clock skew
        // can only turn the fast path off, never make it unsafe.
        fast.push({ spec, round: v.round, bid });
        this.reserve(spec.id);
        continue;
      }
      const best = this.bestLiveBid(v, now);
      if (best && compareBids(best, bid, spec.id) < 0) continue;
      bids.push([spec.id, bid]);
      this.reserve(spec.id);
    }
    if (bids.length === 0 && fast.length === 0) return;
    const started: { spec: TaskSpec; round: number }[] = [];
    this.board.transact(() => {
      for (const [id, b] of bids) {
        if (this.board.putBid(id, b)) {
          this.counters.bids++;
          this.emit('bid', { id, round: b.round, score: b.score });
        }
      }
      for (const f of fast) {
        if (!this.board.putBid(f.spec.id, f.bid) || !this.board.putClaim(f.spec.id, { peer: this.id, round: f.round, score: f.bid.score, at: now })) {
          this.release(f.spec.id);
          continue;
        }
        this.counters.bids++;
        this.counters.claims++;
        this.reserved.delete(f.spec.id); // its token is spent on the run
        started.push(f);
      }
    });
    for (const f of started) this.startRun(f.spec.id, f.spec, f.round);
  }

  private claimAndRun(id: string, spec: TaskSpec, v: TaskView, bid: Bid): void {
    const now = this.clock.now();
    if (spec.exclusive) {
      // A quorum claim: record the votes it needs, vote for it, and wait (the slot stays reserved).
      const quorum = quorumOf(Math.max(1, this.board.peers().length));
      const wrote = this.board.transact(() => {
        if (!this.board.putClaim(id, { peer: this.id, round: v.round, score: bid.score, at: now, quorum })) return false;
        this.board.putVote(id, { round: v.round, voter: this.id, for: this.id, at: now });
        return true;
      });
      if (wrote) {
        this.counters.claims++;
        this.awaiting.set(id, v.round);
      } else this.release(id);
      return;
    }
    if (!this.board.putClaim(id, { peer: this.id, round: v.round, score: bid.score, at: now })) {
      this.release(id);
      return;
    }
    this.reserved.delete(id); // its token is spent on the run
    this.counters.claims++;
    this.startRun(id, spec, v.round);
  }

  /**
   * Known peers (this one included) that this peer heard from directly within `withinMs`. Direct
   * messages, not heartbeats seen in the document: those can arrive relayed, long after they were
   * written, and would make a cut-off peer believe it still sees a majority.
   */
  private freshPeers(now: number, withinMs: number): number {
    let n = 1;
    for (const p of this.board.peers()) {
      if (p.id === this.id) continue;
      const heard = this.sync.lastHeard.get(p.id);
      if (heard !== undefined && now - heard <= withinMs) n++;
    }
    return n;
  }

  /** Does this peer see a majority of the known peers alive (within `withinMs`)? */
  seesMajority(now = this.clock.now(), withinMs = this.timing.lease.leaseMs): boolean {
    return this.freshPeers(now, withinMs) >= quorumOf(Math.max(1, this.board.peers().length));
  }

  private roundCannotReachQuorum(v: TaskView): boolean {
    const known = this.board.peers().map((p) => p.id);
    const voted = new Set(v.votes.map((x) => x.voter));
    const unvoted = known.filter((p) => !voted.has(p)).length;
    const fallback = quorumOf(Math.max(1, known.length));
    return v.awaitingQuorum.every((c) => new Set(v.votes.filter((x) => x.for === c.peer).map((x) => x.voter)).size + unvoted < (c.quorum ?? fallback));
  }

  /**
   * The quorum protocol of exclusive tasks. Returns true when it handled the task.
   * - A claim runs only once a majority of known peers voted for it (one vote per peer and round,
   *   so at most one claim per round can get there).
   * - Every peer votes for the best claim of the round whose holder it sees alive.
   * - A running quorum claim is never expired by others (at most once): the task waits for its
   *   holder; a holder that lost its run releases it and the task ends dead ('interrupted').
   * - A round none of whose claims can ever reach its quorum (votes split) is closed by a peer
   *   that sees a majority, and the next round starts.
   * - A holder that stops seeing a majority aborts its run (see tick).
   */
  private handleExclusive(id: string, spec: TaskSpec, v: TaskView, now: number, expiries: [string, number][], votes: [string, Vote][]): boolean {
    const majority = this.seesMajority(now);
    if (v.state === 'running' && v.claim) {
      if (v.claim.peer === this.id && !this.running.has(id) && !this.outcomeIds.has(id)) {
        if (this.awaiting.get(id) === v.round) {
          // Quorum reached. Start only while a majority is heard from directly; until then wait.
          if (this.seesMajority(now, this.timing.lease.leaseMs / 2) && !this.quiet) {
            this.awaiting.delete(id);
            this.reserved.delete(id); // its token is spent on the run
            this.startRun(id, spec, v.round);
          }
          return true;
        }
        // A quorum claim of ours that we no longer run (restart, or fenced off): release it. The
        // task then ends dead ('interrupted'), since it may have done part of its work: at most once.
        expiries.push([id, v.round]);
      }
      // Never expire another peer's running quorum claim: it may be running or done behind a
      // partition, and running it again would break at-most-once. The task waits for its holder.
      if (!this.running.has(id)) this.release(id);
      return true;
    }
    if (v.state === 'claimed' && v.awaitingQuorum.length > 0) {
      if (this.caughtUp && !this.quiet && !v.votes.some((x) => x.voter === this.id)) {
        const best = v.awaitingQuorum.find((c) => c.peer === this.id || this.isAlive(c.peer, now));
        if (best) votes.push([id, { round: v.round, voter: this.id, for: best.peer, at: now }]);
      }
      // Close the round only when no claim of it can ever reach its quorum, even if every known
      // peer that has not voted yet voted for it: each peer votes once per round, so that is
      // final. A timer would be unsafe: a side of a partition that never saw the close could still
      // complete a quorum for this round while the next round runs elsewhere.
      if (majority && this.roundCannotReachQuorum(v)) expiries.push([id, v.round]);
      if (this.awaiting.get(id) !== v.round) this.release(id);
      return true;
    }
    if (this.awaiting.has(id) && this.awaiting.get(id) !== v.round) {
      this.awaiting.delete(id);
      this.release(id);
    }
    return false;
  }

  private inputsOf(spec: TaskSpec): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const dep of spec.dependsOn) {
      const f = this.board.getFacts(dep);
      out[dep] = f ? (this.view(dep)?.result?.result ?? null) : (this.archive.get(dep)?.result ?? null);
    }
    return out;
  }

  private startRun(id: string, spec: TaskSpec, round: number): void {
    const now = this.clock.now();
    const controller = new AbortController();
    const run: Run = { id, round, startedAt: now, controller, discard: undefined, timer: undefined, lastProgressAt: -Infinity };
    this.running.set(id, run);
    this.emit('run-start', { id, round, type: spec.type });
    const def = this.agents.get(spec.type);
    if (spec.timeoutMs > 0) {
      run.timer = this.clock.setTimeout(() => {
        if (this.running.get(id) !== run || run.discard) return;
        controller.abort(new MeshError('TIMEOUT', `timed out after ${spec.timeoutMs} ms`));
        this.finishRun(run, { ok: false, error: `timeout: run exceeded ${spec.timeoutMs} ms` });
      }, spec.timeoutMs);
    }
    const ctx: AgentContext = {
      taskId: id,
      attempt: round,
      peer: { id: this.id, name: this.name },
      signal: controller.signal,
      progress: (pct, message) => this.progress(run, pct, message),
      data: {
        put: (key, value, namespace) => this.agentWrite(run, spec, key, value, namespace),
        get: (key, namespace) => this.board.getData(namespace ?? spec.type, key)?.value,
      },
      inputs: this.inputsOf(spec),
      now: () => this.clock.now(),
      sleep: (ms) => this.sleep(ms, controller.signal),
    };
    const exec = async () => {
      if (!def) throw new MeshError('UNKNOWN_AGENT', `no agent for task type ${spec.type}`);
      return def.run(spec.payload, ctx);
    };
    exec().then(
      (result) => this.finishRun(run, { ok: true, result }),
      (err) => this.finishRun(run, { ok: false, error: errorText(err) }),
    );
  }

  private agentWrite(run: Run, spec: TaskSpec, key: string, value: unknown, namespace?: string): void {
    if (run.discard || this.stopped) throw new MeshError('ABORTED', 'run was aborted');
    const ns = namespace ?? spec.type.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
    this.board.writeData(ns, key, value, this.id, this.clock.now(), run.id);
    this.counters.dataWrites++;
    this.emit('data-write', { namespace: ns, key, task: run.id, seq: this.writeSeq });
  }

  private progress(run: Run, pct: number, message?: string): void {
    if (run.discard || this.stopped || this.running.get(run.id) !== run) return;
    const now = this.clock.now();
    if (now - run.lastProgressAt < this.timing.progressMinMs && pct < 100) return;
    run.lastProgressAt = now;
    const p = Math.max(0, Math.min(100, Number.isFinite(pct) ? pct : 0));
    this.board.putProgress(run.id, { peer: this.id, round: run.round, pct: p, message: String(message ?? '').slice(0, 200), at: now });
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const t = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.clock.clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private abortRun(run: Run, reason: string): void {
    if (run.discard) return;
    run.discard = reason;
    run.controller.abort(new MeshError('ABORTED', reason));
    if (run.timer !== undefined) this.clock.clearTimeout(run.timer);
    if (this.running.get(run.id) === run) this.running.delete(run.id);
    this.counters.aborted++;
    this.emit('run-end', { id: run.id, round: run.round, outcome: 'aborted', ms: this.clock.now() - run.startedAt, error: reason });
    this.log.log('debug', 'run aborted', { task: run.id, round: run.round, reason });
    this.processSoon();
  }

  private finishRun(run: Run, outcome: { ok: true; result: unknown } | { ok: false; error: string }): void {
    if (run.discard || this.running.get(run.id) !== run || this.stopped) return;
    if (this.board.getSpec(run.id)?.exclusive && !this.seesMajority(this.clock.now(), this.timing.lease.leaseMs / 2)) {
      this.abortRun(run, 'lost sight of a majority of peers before the result could be written (exclusive task)');
      return;
    }
    run.discard = 'finished';
    if (run.timer !== undefined) this.clock.clearTimeout(run.timer);
    this.running.delete(run.id);
    const now = this.clock.now();
    const ms = Math.max(0, now - run.startedAt);
    if (outcome.ok) {
      const size = jsonSize(outcome.result);
      if (size < 0 || size > LIMITS.valueBytes) {
        outcome = { ok: false, error: size < 0 ? 'result is not plain JSON' : `result is ${size} bytes, over the ${LIMITS.valueBytes}-byte limit` };
      }
    }
    // Outcomes that end in the same turn are written together, as one transaction (one update).
    const o = outcome;
    this.outcomeIds.add(run.id);
    this.outcomes.push(() => {
      this.outcomeIds.delete(run.id);
      if (o.ok) {
        this.board.putDone(run.id, { peer: this.id, round: run.round, result: o.result ?? null, at: now, ms });
        this.counters.done++;
        return () => this.emit('run-end', { id: run.id, round: run.round, outcome: 'done', ms });
      }
      this.board.putFail(run.id, { peer: this.id, round: run.round, error: o.error, at: now });
      this.counters.failed++;
      return () => this.emit('run-end', { id: run.id, round: run.round, outcome: 'failed', ms, error: o.error });
    });
    this.outcomeTimer ??= this.clock.setTimeout(() => this.writeOutcomes(), 0);
  }

  /** Writes the outcomes of the runs that ended since the last call, in one transaction. */
  private writeOutcomes(): void {
    if (this.outcomeTimer !== undefined) this.clock.clearTimeout(this.outcomeTimer);
    this.outcomeTimer = undefined;
    if (this.outcomes.length === 0) return;
    const writes = this.outcomes;
    this.outcomes = [];
    const after: (() => void)[] = [];
    this.board.transact(() => {
      for (const w of writes) after.push(w());
    });
    for (const a of after) a();
    this.processSoon();
  }

  private outcomes: (() => () => void)[] = [];
  /** Tasks whose run ended and whose outcome waits to be written (not "our claim, nobody runs it"). */
  private readonly outcomeIds = new Set<string>();
  private outcomeTimer: TimerId | undefined;

  private noteState(id: string, v: TaskView): void {
    if (v.duplicates.length > 0) this.dupCount.set(id, v.duplicates.length);
    else this.dupCount.delete(id);
    if (this.lastState.get(id) === v.state) return;
    this.lastState.set(id, v.state);
    this.emit('task', { id, state: v.state, round: v.round, peer: v.result?.peer ?? v.claim?.peer, view: v });
  }

  // ---- generations -----------------------------------------------------------------------------
  // The live document is replaced now and then by a new generation that holds what is still live;
  // finished tasks past the retention go to the archive (docs/bounded-document.md). Any peer may
  // start one when it is due; the others move when they hear of it: they fetch the starter's
  // document (the base) and add what they hold that it lacks, so nothing is lost and entries are
  // not written twice.

  /** The live document's generation. */
  get generation(): Generation {
    return this.gen;
  }

  /** Starts a new generation now if one is due (called from the main loop every `checkMs`). */
  private maybeRollover(now: number): void {
    if (this.quiet || !this.caughtUp || this.pendingGen || now - this.lastRolloverCheck < this.rollover.checkMs) return;
    this.lastRolloverCheck = now;
    // Cheap pre-check on the states already derived: nothing to do without enough finished tasks.
    const age = now - this.genStartedAt;
    let finished = 0;
    for (const st of this.lastState.values()) if (isTerminal(st)) finished++;
    const keepMax = Math.min(this.rollover.maxFinished, this.board.taskCount);
    const couldBeDue = finished > 0 && (finished - keepMax >= this.rollover.minArchive || age >= this.rollover.retentionMs || this.genBytes > this.rollover.maxDocBytes / 2);
    if (!couldBeDue && !(this.genBytes > this.rollover.maxDocBytes && age >= 60_000)) {
      this.rolloverDueSince = undefined;
      return;
    }
    const split = splitTasks(this.views(now), (id) => this.board.getFacts(id));
    if (this.genBytes > this.rollover.maxDocBytes / 2) this.genBytes = Y.encodeStateAsUpdate(this.doc).byteLength;
    const unfinished = split.views.size - split.finished.length;
    const keep = keepFor(this.rollover, this.genBytes, split.views.size, unfinished);
    const cut: Generation = { n: this.gen.n + 1, at: Math.max(1, Math.round(now)), keep, by: this.id };
    const drop = this.stableOnly(dropSet(split, cut, this.rollover.retentionMs, new Set(this.running.keys())), now);
    const due =
      drop.size >= this.rollover.minArchive ||
      (drop.size > 0 && age >= this.rollover.retentionMs) ||
      (this.genBytes > this.rollover.maxDocBytes && age >= 60_000);
    if (!due) {
      this.rolloverDueSince = undefined;
      return;
    }
    this.rolloverDueSince ??= now;
    // One peer usually starts it: the alive peers take turns by a hash of the generation number.
    const alive = this.aliveEligiblePeers(now).map((p) => p.id);
    alive.sort((a, b) => unitHash('gen', cut.n, a) - unitHash('gen', cut.n, b) || (a < b ? -1 : 1));
    const rank = Math.max(0, alive.indexOf(this.id));
    if (now - this.rolloverDueSince < rank * this.rollover.staggerMs) return;
    this.enterGeneration(cut, undefined, split);
  }

  /**
   * Keeps the tasks every present peer already holds entirely (its latest state vector covers
   * each of their entries). A task some peer may still lack a fact of stays live: archiving it
   * here would freeze an outcome others could decide differently. Peers not heard from for a
   * while are not waited for; what they bring back later stays live until everyone has it.
   */
  private stableOnly(ids: Set<string>, now: number): Set<string> {
    if (ids.size === 0) return ids;
    const awayMs = Math.max(10 * this.timing.heartbeatMs, 2 * this.timing.lease.leaseMs);
    const svs: Map<number, number>[] = [];
    for (const p of this.board.peers()) {
      if (p.id === this.id) continue;
      const heard = this.sync.lastHeard.get(p.id);
      if (heard === undefined || now - heard > awayMs) continue;
      const sv = this.sync.remoteSV.get(p.id);
      if (!sv) return new Set();
      svs.push(sv);
    }
    const out = new Set<string>();
    for (const id of ids) {
      if (this.board.taskItemIds(id).every(({ client, clock }) => svs.every((sv) => (sv.get(client) ?? 0) > clock))) out.add(id);
    }
    return out;
  }

  /** A message of a later generation arrived: fetch that generation's document, then move to it. */
  private onLaterGeneration(from: string, name: string, sub: number, payload: Uint8Array): void {
    if (this.stopped) return;
    const g = parseGeneration(name);
    if (!g || compareGenerations(g, this.gen) <= 0) return;
    if (g.at > this.clock.now() + 24 * 3600_000) {
      this.log.log('warn', 'ignored a generation from the future', { from, name });
      return;
    }
    if (sub === SYNC_STEP2) {
      if (this.pendingGen && compareGenerations(this.pendingGen.gen, g) > 0) return;
      const problem = checkUpdate(payload);
      if (problem) {
        this.log.log('warn', 'rejected a generation base', { from, name, reason: problem });
        return;
      }
      this.enterGeneration(g, { from, update: payload });
      return;
    }
    const now = this.clock.now();
    const p = this.pendingGen;
    if (p && compareGenerations(p.gen, g) >= 0 && now - p.askedAt < Math.max(250, 4 * this.sync.maxRtt())) return;
    this.pendingGen = { name, gen: g, from, askedAt: now };
    this.log.log('debug', 'asking for a later generation', { from, name });
    this.sync.requestBase(from, name);
  }

  /**
   * Moves to generation `g`: a fresh document gets the base (when another peer started it), then
   * every entry of ours it lacks except finished tasks the cut archives; the archive gets those.
   */
  private enterGeneration(g: Generation, base: { from: string; update: Uint8Array } | undefined, split?: ReturnType<typeof splitTasks>): void {
    const now = this.clock.now();
    const old = this.board;
    const oldDoc = this.doc;
    split ??= splitTasks(this.views(now), (id) => old.getFacts(id));
    const doc = this.newDoc();
    const board = this.newBoard(doc);
    const oldName = this.gen.n === 0 ? encodeGeneration(GENESIS) : encodeGeneration(this.gen);
    const mine = [...old.lineage(), oldName].slice(-32);
    let drop = this.stableOnly(dropSet(split, g, this.rollover.retentionMs, new Set(this.running.keys())), now);
    let reinsert: ArchiveRecord[] = [];
    if (base) {
      Y.applyUpdate(doc, base.update, new MeshOrigin(base.from));
      const theirs = board.lineage();
      if (!theirs.includes(oldName)) {
        // We were on a branch of our own (both sides of a partition changed generations). What we
        // archived on it goes back into the live document, and we archive nothing now: the other
        // side then sees every fact of ours, outcomes are decided with everything known, and the
        // tasks leave the live document again at a later change, the same way everywhere.
        const common = [...mine].reverse().find((n) => theirs.includes(n));
        const ours = common === undefined ? mine : mine.slice(mine.indexOf(common) + 1);
        reinsert = ours.flatMap((n) => this.archive.byGeneration(n));
        drop = new Set();
        this.log.log('info', 'merging a generation branch', { ours: ours.length, reinserted: reinsert.length, common: common ?? null });
      }
    } else board.setLineage(mine);
    const records = old.copyInto(board, drop); // carries the first-sighting times too
    for (const r of reinsert) board.restore(r);
    // A task we archive now that the base still holds (its starter missed how it ended) gets the
    // facts we have and it lacks, so it ends there as it ended here instead of running again.
    for (const r of records) if (board.getSpec(r.id)) board.restore(r);
    board.markGeneration(g);
    const name = encodeGeneration(g);
    const archived: ArchiveRecord[] = [];
    for (const r of records) {
      const v = split.views.get(r.id);
      const f = old.getFacts(r.id);
      if (v && f) archived.push(archiveRecord(r, v, f, g, now));
    }
    for (const client of Y.decodeStateVector(Y.encodeStateVector(oldDoc)).keys()) this.retiredClients.add(client);
    oldDoc.off('update', this.onDocUpdate);
    this.unsubscribeBoard?.();
    this.doc = doc;
    this.board = board;
    this.gen = g;
    this.genStartedAt = this.genEnteredAt = now;
    this.pendingGen = undefined;
    this.rolloverDueSince = undefined;
    const snapshot = Y.encodeStateAsUpdate(doc);
    this.genBytes = snapshot.byteLength;
    // The whole new document goes to the log at once, behind a marker, so a crash before the
    // compaction below restarts with it (and without the old generation logged before it).
    const record = new Uint8Array(GENERATION_RECORD.length + snapshot.length);
    record.set(GENERATION_RECORD);
    record.set(snapshot, GENERATION_RECORD.length);
    this.storage.append(record);
    this.writeSeq++;
    doc.on('update', this.onDocUpdate);
    this.unsubscribeBoard = board.onChange((c) => this.onBoardChange(c));
    this.heartbeat();
    this.sync.setDoc(doc, name);
    for (const id of drop) {
      this.active.delete(id);
      this.dirty.delete(id);
      this.pendingPool.delete(id);
      this.lastState.delete(id);
      this.dupCount.delete(id);
      this.release(id);
    }
    for (const id of board.taskIds()) {
      this.dirty.add(id);
      // A task of the base that this replica had archived before may lack its outcome.
      if (!old.getSpec(id) && this.archive.mightHave(id)) this.toCheck.add(id);
    }
    this.log.log('info', 'new document generation', { generation: name, startedBy: g.by === this.id ? 'this peer' : g.by, archived: archived.length, kept: board.taskCount, bytes: snapshot.byteLength });
    this.emit('generation', { name, n: g.n, archived: archived.length, kept: board.taskCount, startedBy: g.by, docBytes: snapshot.byteLength });
    // The archive is durable before the log that still holds the archived tasks is compacted away.
    this.genWork = this.genWork
      .then(async () => {
        if (archived.length > 0) await this.archive.append(archived);
        if (this.stopped) return;
        await this.flush();
        if (!this.stopped) await this.storage.compact(Y.encodeStateAsUpdate(this.doc));
      })
      .catch((e: unknown) => this.log.log('error', 'archiving or compaction after a generation change failed', { error: (e as Error).message }));
    this.processSoon();
  }

  /**
   * Right after a generation change (or while fetching a later generation) this peer neither bids
   * nor claims: bids and claims that peers still on the old generation wrote reach it only once
   * they have moved too, and an award made without them could run a task twice.
   */
  private settling(now: number): boolean {
    if (this.pendingGen !== undefined) return true;
    return now - this.genEnteredAt < Math.max(4 * this.timing.bidWindowMs, 4 * this.sync.maxRtt(), 60);
  }

  /** Waits for the archive writes and compaction of past generation changes. */
  async settled(): Promise<void> {
    await this.genWork;
  }

  /**
   * Tasks that came back into the live document (from a replica that had missed their end) get
   * their archived facts again, so they end as they ended before instead of running again.
   */
  private restoreFromArchive(): void {
    if (this.toCheck.size === 0) return;
    const ids = [...this.toCheck];
    this.toCheck.clear();
    for (const id of ids) {
      const rec = this.archive.get(id);
      if (!rec) continue;
      const n = this.board.restore(rec);
      if (n > 0) {
        this.log.log('info', 'restored an archived task that came back without its outcome', { task: id, entries: n });
        this.emit('restored', { id, entries: n });
      }
    }
  }

  /** True when an update carries changes of an earlier generation's document (a stale replica). */
  isStaleUpdate(update: Uint8Array): boolean {
    if (this.retiredClients.size === 0) return false;
    try {
      const meta = Y.parseUpdateMeta(update);
      for (const client of meta.to.keys()) if (this.retiredClients.has(client)) return true;
      return false;
    } catch {
      return false;
    }
  }

  /** A task as the archive has it (undefined if this peer never archived it). */
  archived(id: string): ArchiveRecord | undefined {
    return this.archive.get(id);
  }

  /** The view of an archived task, derived from its archived facts. */
  archivedView(id: string, now = this.clock.now()): TaskView | undefined {
    const rec = this.archive.get(id);
    const facts = rec ? factsFromRecord(rec) : undefined;
    if (!rec || !facts) return undefined;
    return deriveTask(facts, {
      now,
      taskSeenAt: rec.finishedAt,
      seenAt: () => rec.finishedAt,
      lastSeen: () => undefined,
      depState: (dep) => this.board.getFacts(dep) ? this.view(dep, now)?.state : this.archive.get(dep)?.state,
      lease: this.timing.lease,
      backoff: this.timing.backoff,
      seed: this.meshSeed,
      knownPeers: Math.max(1, this.board.peers().length),
    });
  }

  // ---- public API ----------------------------------------------------------------------------------

  /** Adds tasks; resolves once they are durable on this peer's disk. */
  async submit(input: TaskInput | TaskInput[]): Promise<TaskSpec[]> {
    if (this.stopped || !this.started) throw new MeshError('CLOSED', 'peer is not running');
    await this.ready;
    if (this.stopped) throw new MeshError('CLOSED', 'peer is not running');
    const inputs = Array.isArray(input) ? input : [input];
    const now = this.clock.now();
    const specs = inputs.map((i) => buildTaskSpec(i, { now, by: this.id, rng: this.rng, defaultStrategy: this.defaultStrategy }));
    this.board.transact(() => {
      for (const s of specs) this.board.putTask(s);
    });
    for (const s of specs) this.dirty.add(s.id);
    this.processSoon();
    await this.flush();
    return specs;
  }

  /** Cancels a task everywhere (a running run is aborted by whoever runs it). */
  async cancel(id: string, reason = 'cancelled'): Promise<boolean> {
    await this.ready;
    if (!this.board.getSpec(id)) {
      const rec = this.archive.get(id);
      if (rec) throw new MeshError('INVALID_ARGUMENT', `task ${id} already ended (${rec.state}) and is archived`);
      throw new MeshError('NOT_FOUND', `no task ${id}`);
    }
    const wrote = this.board.putCancel(id, { by: this.id, at: this.clock.now(), reason });
    this.dirty.add(id);
    this.processSoon();
    await this.flush();
    return wrote;
  }

  /**
   * Revives a dead task: a new round opens and its failures are counted afresh (every earlier
   * attempt's error stays in the document). Only dead tasks can be revived.
   */
  async retry(id: string): Promise<TaskView> {
    await this.ready;
    if (!this.board.getSpec(id)) {
      // A dead task that was archived comes back into the live document first.
      const rec = this.archive.get(id);
      if (rec?.state === 'dead') this.board.restore(rec);
    }
    const v = this.view(id);
    if (!v) throw new MeshError('NOT_FOUND', `no task ${id}`);
    if (v.state !== 'dead') throw new MeshError('INVALID_ARGUMENT', `task ${id} is ${v.state}, only dead tasks can be retried`);
    if (v.deadReason === 'dependency') throw new MeshError('INVALID_ARGUMENT', `task ${id} is dead because a dependency is dead: retry that first (${v.blockedBy.join(', ')})`);
    this.board.putRetry(id, { round: v.round, by: this.id, at: this.clock.now() });
    this.dirty.add(id);
    this.active.add(id);
    this.processSoon();
    await this.flush();
    return this.view(id)!;
  }

  /** Every task as this replica sees it. */
  views(now = this.clock.now()): TaskView[] {
    const memo = new Map<string, TaskState | undefined>();
    const out: TaskView[] = [];
    for (const id of this.board.taskIds()) {
      const f = this.board.getFacts(id);
      if (f) {
        const v = this.derive(id, f, now, memo);
        memo.set(id, v.state);
        out.push(v);
      }
    }
    return out;
  }

  status(): PeerStatus {
    const now = this.clock.now();
    const tasks = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    let duplicateRuns = 0;
    let overlap: ArchiveCounts | undefined;
    // States as the main loop last derived them (it looks at every changed task each pass), so a
    // status call does not re-derive the whole board; tasks it has not looked at yet are derived.
    const memo = new Map<string, TaskState | undefined>();
    for (const id of this.board.taskIds()) {
      let state = this.lastState.get(id);
      let dups = this.dupCount.get(id) ?? 0;
      if (state === undefined || this.dirty.has(id)) {
        const f = this.board.getFacts(id);
        if (!f) continue;
        const v = this.derive(id, f, now, memo);
        state = v.state;
        dups = v.duplicates.length;
      }
      tasks[state]++;
      duplicateRuns += dups;
      // A finished task both in the live document and in the archive is counted once.
      if (isTerminal(state) && this.archive.mightHave(id)) {
        const rec = this.archive.get(id);
        if (rec) {
          overlap ??= { done: 0, dead: 0, cancelled: 0, total: 0 };
          overlap[rec.state]++;
        }
      }
    }
    const archived = this.archive.counts();
    for (const st of ['done', 'dead', 'cancelled'] as const) tasks[st] += Math.max(0, archived[st] - (overlap?.[st] ?? 0));
    const peers = this.board.peers().map((p) => ({
      name: p.name,
      peerId: p.id,
      capacity: p.capacity,
      load: p.id === this.id ? this.running.size + this.reserved.size : (this.board.beat(p.id)?.load ?? 0),
      alive: this.isAlive(p.id, now),
    }));
    peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { peers, tasks, duplicateRuns, archived, generation: { n: this.gen.n, name: encodeGeneration(this.gen) } };
  }

  get load(): number {
    return this.running.size + this.reserved.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Stops heartbeats and new bids (the simulator's final convergence check); sync keeps going. */
  setQuiet(quiet: boolean): void {
    this.quiet = quiet;
  }

  /**
   * Graceful stop: no new bids, running tasks get `drainMs` to finish, what is still running is
   * released (its lease expired at once so others re-bid), then everything is flushed and closed.
   */
  async stop(): Promise<void> {
    if (this.stopped || !this.started) return;
    this.quiet = true;
    this.reserved.clear();
    const deadline = this.clock.now() + this.timing.drainMs;
    while (this.running.size > 0 && this.clock.now() < deadline) {
      await new Promise<void>((r) => this.clock.setTimeout(r, 20));
    }
    const now = this.clock.now();
    const left = [...this.running.values()];
    if (left.length > 0) {
      this.board.transact(() => {
        for (const run of left) this.board.putExpiry(run.id, { round: run.round, by: this.id, at: now });
      });
      for (const run of left) this.abortRun(run, 'peer stopping');
    }
    this.writeOutcomes();
    await this.genWork;
    await this.flush();
    this.sync.flush();
    this.shutdown();
    await this.storage.close();
    this.log.log('info', 'peer stopped', { id: this.id });
  }

  /** Simulated kill -9: everything in memory is gone, nothing is flushed or sent. */
  crash(): void {
    for (const run of this.running.values()) {
      run.discard = 'crashed';
      run.controller.abort(new MeshError('ABORTED', 'crashed'));
      if (run.timer !== undefined) this.clock.clearTimeout(run.timer);
    }
    this.running.clear();
    this.shutdown(false);
  }

  private shutdown(flushSync = true): void {
    this.stopped = true;
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    if (this.soonTimer !== undefined) this.clock.clearTimeout(this.soonTimer);
    if (this.outcomeTimer !== undefined) this.clock.clearTimeout(this.outcomeTimer);
    this.tickTimer = this.soonTimer = this.outcomeTimer = undefined;
    this.sync.stop(flushSync);
    this.removeAllListeners();
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

/** Prefix of a log record holding a whole new generation's document (never the start of a Yjs update in practice). */
const GENERATION_RECORD = new Uint8Array([0xff, 0x41, 0x4d, 0x47, 0x45, 0x4e, 0x00, 0x01]);

function isGenerationRecord(u: Uint8Array): boolean {
  if (u.length < GENERATION_RECORD.length) return false;
  for (let i = 0; i < GENERATION_RECORD.length; i++) if (u[i] !== GENERATION_RECORD[i]) return false;
  return true;
}

/** How long the sorted pending pool may be reused. */
const POOL_ORDER_MS = 250;

/** Granularity of "older first" when a peer picks from a backlog (see `bid`). */
const AGE_BUCKET_MS = 500;

/** Higher priority first, then older first, then by id: the order in which a free peer bids. */
function byPriorityThenAge(a: TaskSpec, b: TaskSpec): number {
  return b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  try {
    return typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    return String(err);
  }
}
