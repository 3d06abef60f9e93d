// The transport-agnostic peer: it joins the document, registers itself, watches the board, bids,
// claims by the deterministic award, runs tasks through agent handlers, writes progress and
// results, keeps its leases alive with heartbeats, re-bids tasks whose lease lapsed, and lets the
// lifecycle rules settle every task to one canonical result after partitions heal.
// Clock, seed, transport and storage are injected: the same class runs in the simulator and for real.
//
// This class is the composition root: it wires parts that each own their state (docs/design.md,
// "Module map"): the live document handle, durability, sync, liveness, views, runs, bidding, the
// quorum protocol, generations and the main loop. Parts get a narrow PeerContext, never the Peer.

import type * as Y from 'yjs';
import type { TaskBoard } from '@agentmesh/crdt-store';
import { DEFAULT_WEIGHTS, MeshError, createRng, type ObjectiveWeights, type Rng, type StrategyName, type TaskSpec, type TaskView } from '@agentmesh/scheduler';
import { MemoryArchive, type Archive, type ArchiveRecord, type Generation, type InvalidEntry, type TaskRecord } from '@agentmesh/crdt-store';
import { agentDefinition, type AgentDefinition } from './agents.js';
import type { Clock } from './clock.js';
import { TypedEmitter } from './emitter.js';
import { silentLogger, type Logger } from './logger.js';
import { SyncEngine, type SyncStats } from './sync/engine.js';
import type { TaskInput } from './task-input.js';
import { signedFromArchive, type Archiver } from './peer/archiver.js';
import type { Assigned } from './peer/assigned.js';
import type { Bidding } from './peer/bidding.js';
import type { Submitter } from './peer/submit.js';
import { DEFAULT_TIMING, capabilitiesOf, type PeerContext, type PeerCounters, type PeerEvents, type PeerOptions, type PeerTiming } from './peer/context.js';
import type { Durability } from './peer/durability.js';
import type { Presence } from './peer/presence.js';
import type { Generations } from './peer/generations.js';
import { LiveDocument, compareGenerationNames, newDocument } from './peer/live-document.js';
import type { Liveness } from './peer/liveness.js';
import type { MainLoop } from './peer/main-loop.js';
import { assembleParts } from './peer/parts.js';
import { DEFAULT_ROLLOVER, type RolloverPolicy } from './peer/rollover.js';
import type { Runs } from './peer/runs.js';
import { documentStats, peerStatus, type DocStats, type PeerStatus } from './peer/status.js';
import { Members, peerTrust } from './peer/trust.js';
import type { EntryTrust } from '@agentmesh/crdt-store';
import type { Views } from './peer/views.js';

export { DEFAULT_TIMING, type PeerContext, type PeerCounters, type PeerEvents, type PeerOptions, type PeerTiming } from './peer/context.js';
export { DEFAULT_ROLLOVER, type RolloverPolicy } from './peer/rollover.js';
export { LiveDocument, generationName, type LiveDocumentEvents } from './peer/live-document.js';
export type { DocStats, PeerStatus, StatusPeer } from './peer/status.js';

export class Peer extends TypedEmitter<PeerEvents> {
  readonly id: string;
  readonly name: string;
  /** The handle on the live document: it is replaced at each generation change ('replaced' event). */
  readonly document: LiveDocument;
  readonly sync: SyncEngine;
  readonly archive: Archive;
  readonly rollover: RolloverPolicy;
  readonly timing: PeerTiming;
  readonly capabilities: string[];
  readonly capacity: number;
  readonly concurrency: number;
  readonly counters: PeerCounters = { done: 0, failed: 0, aborted: 0, dataWrites: 0, bids: 0, claims: 0, expiriesWritten: 0, restores: 0 };

  private readonly clock: Clock;
  /** Signs this peer's entries and checks everyone's (undefined: unsigned, for tests and tools). */
  readonly trust: EntryTrust | undefined;
  /** Removing members and asking who was removed (docs/security.md). */
  readonly members: Members;
  private readonly log: Logger;
  private readonly rng: Rng;
  private readonly defaultStrategy: StrategyName;
  private readonly ctx: PeerContext;
  private readonly durability: Durability;
  private readonly presence: Presence;
  private readonly liveness: Liveness;
  private readonly taskViews: Views;
  private readonly runs: Runs;
  private readonly bidding: Bidding;
  private readonly assigned: Assigned;
  private readonly submitter: Submitter;
  private readonly generations: Generations;
  private readonly archiver: Archiver;
  private readonly loop: MainLoop;
  /** A task left the live document: every part forgets it. */
  private readonly forget: (id: string) => void;
  private started = false;
  private stopped = false;
  private quiet = false;
  /**
   * Resolves once start() has loaded the storage and hooked the document to it. Writes made
   * before that would reach neither the log nor the mesh, so the public writers wait for it.
   */
  private ready: Promise<void> = Promise.resolve();

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
    this.log = opts.logger ?? silentLogger;
    this.rng = createRng(opts.seed);
    this.trust = peerTrust(opts.trust, this.log, (source, reason) => this.emit('invalid', { source, reason }));
    this.members = new Members(this.id, this.trust, () => this.document.board, () => this.clock.now(), () => this.flush(), this.log);
    this.defaultStrategy = opts.defaultStrategy ?? 'capacity-weighted';
    const weights: ObjectiveWeights = opts.weights ?? DEFAULT_WEIGHTS;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    const agents = new Map<string, AgentDefinition>();
    for (const [type, a] of Object.entries(opts.agents)) agents.set(type, agentDefinition(a));
    this.capabilities = capabilitiesOf(agents, opts.capabilities);
    this.archive = opts.archive ?? new MemoryArchive();
    this.rollover = { ...DEFAULT_ROLLOVER, ...opts.rollover };

    const self = { id: this.id, capacity: this.capacity, concurrency: this.concurrency, capabilities: this.capabilities };
    this.ctx = {
      id: this.id,
      name: this.name,
      clock: this.clock,
      timing: this.timing,
      log: this.log,
      meshSeed: opts.meshSeed ?? 0,
      self,
      counters: this.counters,
      board: () => this.document.board,
      emit: (event, e) => this.emit(event, e),
      listens: (event) => this.listens(event),
      processSoon: () => this.loop.processSoon(),
      stopped: () => this.stopped,
      quiet: () => this.quiet,
    };
    const first = this.newDocument();
    this.document = new LiveDocument(first.doc, first.board);
    // The peer's own parts follow a new document first, in this order: its updates are logged and
    // counted, the main loop watches its board and writes a heartbeat into it; only then do the
    // sync engine and other subscribers (websocket clients) move to it.
    this.document.on('replaced', (e) => {
      this.durability.follow(e.doc, e.previous.doc);
      this.generations.follow(e.doc, e.previous.doc);
      this.loop.watch(e.board);
      this.loop.heartbeat();
    });
    this.sync = new SyncEngine(this.document, opts.transport, {
      clock: this.clock,
      batchMs: this.timing.batchMs,
      antiEntropyMs: this.timing.antiEntropyMs,
      repairMs: this.timing.repairMs,
      maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024 * 1024,
      compareGenerations: compareGenerationNames,
    });
    this.sync.on('invalid', ({ from, reason }) => {
      this.log.log('warn', 'rejected update', { from, reason });
      this.emit('invalid', { source: from, reason });
    });
    const parts = assembleParts({
      ctx: this.ctx,
      live: this.document,
      sync: this.sync,
      storage: opts.storage,
      archive: this.archive,
      rollover: this.rollover,
      agents,
      rng: this.rng,
      defaultStrategy: this.defaultStrategy,
      shortlist: opts.shortlist ?? 2,
      weights,
      newDocument: () => this.newDocument(),
    });
    ({ durability: this.durability, presence: this.presence, liveness: this.liveness, views: this.taskViews, runs: this.runs, bidding: this.bidding, assigned: this.assigned, submitter: this.submitter, generations: this.generations, archiver: this.archiver, loop: this.loop } = parts);
    this.forget = parts.forget;
  }

  private newDocument(): { doc: Y.Doc; board: TaskBoard } {
    return newDocument(this.rng, () => this.clock.now(), (e) => this.reportInvalid(e), this.trust);
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

  private async startInner(): Promise<void> {
    // Tasks archived before a crash whose archive write may not have made it: their deletions
    // replay from the log (with everything they had), so they are archived again (idempotent).
    const replayed: { records: TaskRecord[]; deleted: number; sheets: Map<string, Uint8Array> } = { records: [], deleted: 0, sheets: new Map() };
    const off = this.document.board.onChange((c) => {
      replayed.records.push(...c.removed);
      replayed.deleted += c.deleted;
      for (const [k, b] of c.sheets ?? []) replayed.sheets.set(k, b);
    });
    const loaded = await this.durability.load();
    off();
    const board = this.document.board;
    if (replayed.deleted > 0) this.archiver.onRemoved(replayed.records, replayed.deleted, true, replayed.sheets);
    this.document.loaded(board.generation());
    this.generations.loaded(loaded.bytes);
    this.durability.hook();
    this.loop.watch(board);
    board.initMeta();
    // A restarted peer keeps the time it first joined (round assignment from the registry counts from it).
    const previous = board.peer(this.id);
    const startedAt = this.clock.now();
    board.registerPeer({
      id: this.id,
      name: this.name,
      capabilities: this.capabilities,
      capacity: this.capacity,
      concurrency: this.concurrency,
      startedAt,
      joinedAt: previous ? (previous.joinedAt ?? previous.startedAt) : startedAt,
    });
    const now = this.clock.now();
    this.loop.start(now);
    this.bidding.started(now);
    this.presence.started(now);
    this.generations.started(now);
    this.sync.start();
    this.loop.heartbeat();
    this.log.log('info', 'peer started', { id: this.id, tasks: board.taskCount, replayed: loaded.replayed });
    this.loop.scheduleTick();
    this.loop.processSoon();
  }

  /** What the storage repaired when this peer loaded it (cut tails, snapshots moved aside). */
  get loadWarnings(): string[] {
    return this.durability.loadWarnings;
  }

  /** One turn of the main loop: heartbeat, storage group commit, bidding and claiming. */
  tick(): void {
    this.loop.tick();
  }

  /** Evaluates changed tasks (all live tasks on a sweep): expire lapsed leases, bid, claim, run. */
  process(): void {
    this.loop.process();
  }

  /** Makes every update so far durable; resolves when it is on disk. */
  flush(): Promise<void> {
    return this.durability.flush();
  }

  /** Folds the update log into one snapshot of the whole document. */
  compact(): Promise<void> {
    return this.durability.compact();
  }

  /** The storage sequence of the latest update (for durability tracking). */
  get lastWriteSeq(): number {
    return this.durability.lastWriteSeq;
  }

  // ---- queries -------------------------------------------------------------------------------------

  /** Is `peer` alive as this replica sees it (its heartbeat changed within the lease)? */
  isAlive(peer: string, now = this.clock.now()): boolean {
    return this.liveness.isAlive(peer, now);
  }

  /** Does this peer see a majority of the known peers alive (within `withinMs`)? */
  seesMajority(now = this.clock.now(), withinMs = this.timing.lease.leaseMs): boolean {
    return this.liveness.seesMajority(now, withinMs);
  }

  /** Derives a task's view as this replica sees it now. */
  view(id: string, now = this.clock.now()): TaskView | undefined {
    return this.taskViews.view(id, now);
  }

  /** Every task as this replica sees it. */
  views(now = this.clock.now()): TaskView[] {
    return this.taskViews.views(now);
  }

  /** A live task's spec (undefined once it left the live document). */
  taskSpec(id: string): TaskSpec | undefined {
    return this.document.board.getSpec(id);
  }

  /** A peer's name as registered (undefined if unknown). */
  peerName(id: string): string | undefined {
    return this.document.board.peer(id)?.name;
  }

  /** A task as the archive has it (undefined if this peer never archived it). */
  archived(id: string): ArchiveRecord | undefined {
    return this.archive.get(id);
  }

  /** The view of an archived task, derived from its archived facts. */
  archivedView(id: string, now = this.clock.now()): TaskView | undefined {
    return this.taskViews.archivedView(id, now);
  }

  status(): PeerStatus {
    return peerStatus({ ctx: this.ctx, views: this.taskViews, archive: this.archive, liveness: this.liveness, dirty: () => this.loop.dirtyIds(), load: this.load, generation: this.document.generation, trust: this.trust });
  }

  /** The sync engine's counters (a copy). */
  syncStats(): SyncStats {
    return { ...this.sync.stats };
  }

  /** What the live document holds and weighs (one full encoding). */
  docStats(): DocStats {
    return documentStats(this.document, this.archive);
  }

  /** The live document's generation. */
  get generation(): Generation {
    return this.document.generation;
  }

  /** Waits for the archive writes and compaction of past generation changes. */
  async settled(): Promise<void> {
    await this.generations.settled();
    await this.archiver.settled();
  }

  /** True when an update carries changes of an earlier generation's document (a stale replica). */
  isStaleUpdate(update: Uint8Array): boolean {
    return this.generations.isStaleUpdate(update);
  }

  /** How long a bidder waits for competing bids now (stretched to the network and the event loop). */
  bidWindow(): number {
    return this.bidding.bidWindow();
  }

  /** Timing the peer adapts to the network and its own load (for diagnostics). */
  timingNow(): ReturnType<Bidding['timingNow']> {
    return this.bidding.timingNow();
  }

  get load(): number {
    return this.bidding.load() + this.assigned.queued;
  }

  get runningCount(): number { return this.runs.count; } // prettier-ignore
  get isStopped(): boolean { return this.stopped; } // prettier-ignore

  // ---- writes --------------------------------------------------------------------------------------

  /** Adds tasks; resolves once they are durable on this peer's disk. */
  async submit(input: TaskInput | TaskInput[]): Promise<TaskSpec[]> {
    if (this.stopped || !this.started) throw new MeshError('CLOSED', 'peer is not running');
    await this.ready;
    if (this.stopped) throw new MeshError('CLOSED', 'peer is not running');
    const inputs = Array.isArray(input) ? input : [input];
    const specs = this.submitter.write(inputs);
    for (const s of specs) this.loop.touch(s.id);
    // Tasks assigned to this peer start now, in this turn (the claim goes with its activity batch).
    this.loop.process();
    await this.flush();
    return specs;
  }

  /** Cancels a task everywhere (a running run is aborted by whoever runs it). */
  async cancel(id: string, reason = 'cancelled'): Promise<boolean> {
    await this.ready;
    const board = this.document.board;
    if (!board.getSpec(id)) {
      const rec = this.archive.get(id);
      if (rec) throw new MeshError('INVALID_ARGUMENT', `task ${id} already ended (${rec.state}) and is archived`);
      throw new MeshError('NOT_FOUND', `no task ${id}`);
    }
    const wrote = board.putCancel(id, { by: this.id, at: this.clock.now(), reason });
    this.loop.touch(id);
    this.loop.processSoon();
    await this.flush();
    return wrote;
  }

  /**
   * Revives a dead task: a new round opens and its failures are counted afresh (every earlier
   * attempt's error stays in the document). Only dead tasks can be revived.
   */
  async retry(id: string): Promise<TaskView> {
    await this.ready;
    const board = this.document.board;
    if (!board.getSpec(id)) {
      // A dead task that was archived comes back into the live document first.
      const rec = this.archive.get(id);
      if (rec?.state === 'dead') board.restore(signedFromArchive(board, this.archive, [rec])[0]!);
    }
    const v = this.view(id);
    if (!v) throw new MeshError('NOT_FOUND', `no task ${id}`);
    if (v.state !== 'dead') throw new MeshError('INVALID_ARGUMENT', `task ${id} is ${v.state}, only dead tasks can be retried`);
    if (v.deadReason === 'dependency') throw new MeshError('INVALID_ARGUMENT', `task ${id} is dead because a dependency is dead: retry that first (${v.blockedBy.join(', ')})`);
    board.putRetry(id, { round: v.round, by: this.id, at: this.clock.now() });
    this.loop.touch(id);
    this.loop.processSoon();
    await this.flush();
    return this.view(id)!;
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

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
    this.bidding.clear();
    this.assigned.clear();
    await this.runs.drain(this.timing.drainMs);
    // Archive writes that failed again: their tasks stay in the update log (nothing is compacted), and a restart archives them.
    await this.settled().catch((e: Error) => this.log.log('warn', 'stopping with archive writes not made; the update log keeps their tasks', { error: e.message }));
    await this.flush();
    this.sync.flush();
    this.shutdown();
    await this.durability.close();
    this.log.log('info', 'peer stopped', { id: this.id });
  }

  /** Simulated kill -9: everything in memory is gone, nothing is flushed or sent. */
  crash(): void {
    this.runs.crash();
    this.shutdown(false);
  }

  private shutdown(flushSync = true): void {
    this.stopped = true;
    this.loop.close();
    this.runs.close();
    this.sync.stop(flushSync);
    this.removeAllListeners();
  }
}
