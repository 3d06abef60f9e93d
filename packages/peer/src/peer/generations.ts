// Document generations: the live document is replaced now and then by a new generation that holds
// what is still live; finished tasks past the retention go to the archive (docs/bounded-document.md).
// Any peer may start one when it is due; the others move when they hear of it: they fetch the
// starter's document (the base) and add what they hold that it lacks, so nothing is lost and
// entries are not written twice. This part owns everything about the switch: when one is due,
// which tasks are stable enough to leave, the move itself, the settle period after it, restoring
// archived tasks that come back without their outcome, and the ids of retired documents.

import * as Y from 'yjs';
import { isTerminal, unitHash } from '@agentmesh/scheduler';
import { GENESIS, compareGenerations, encodeGeneration, parseGeneration, type Archive, type ArchiveRecord, type Generation, type TaskBoard } from '@agentmesh/crdt-store';
import type { SyncEngine } from '../sync/engine.js';
import { MeshOrigin, checkUpdate } from '../sync/wire.js';
import type { PeerContext } from './context.js';
import type { Durability } from './durability.js';
import type { LiveDocument } from './live-document.js';
import type { Liveness } from './liveness.js';
import type { RolloverPolicy } from './rollover.js';
import type { Runs } from './runs.js';
import type { Views } from './views.js';
import { signedFromArchive } from './archiver.js';

export interface GenerationsDeps {
  live: LiveDocument;
  durability: Durability;
  sync: SyncEngine;
  views: Views;
  runs: Runs;
  liveness: Liveness;
  archive: Archive;
  rollover: RolloverPolicy;
  /** True while archive writes that failed wait to be written again (a new generation waits for them: see maybeRollover). */
  archiveBehind(): boolean;
  /** Takes the records of archive writes that failed (and their batch bytes): see enter(). */
  takeUnwritten(): { records: ArchiveRecord[]; sheets: ReadonlyMap<string, Uint8Array> | undefined }[];
  /** A fresh document with its board (a new Yjs client id each time). */
  newDocument(): { doc: Y.Doc; board: TaskBoard };
  /** Has the peer caught up with the mesh since it started? */
  caughtUp(): boolean;
  /** Entries deleted from the live document since its generation began. */
  tombstones(): number;
  /** The new generation began (its document has no tombstones). */
  entered(): void;
  /** A task left the live document: the main loop, bidding and views forget it. */
  forget(id: string): void;
  /** A task of the new document is to be evaluated again. */
  markDirty(id: string): void;
}

/** The longest a peer waits for the others to move to a new generation before it bids again. */
const MAX_SETTLE_MS = 10_000;

export class Generations {
  /** Bytes of updates since the generation began (an upper estimate of the encoded document). */
  private genBytes = 0;
  private genStartedAt = 0;
  /** When this peer last moved to a new generation (-Infinity: not since it started). */
  private genEnteredAt = -Infinity;
  /** Every peer alive has moved to this generation and this peer holds what they carried. */
  private settled_ = false;
  private lastRolloverCheck = -Infinity;
  private lastMeasured = -Infinity;
  /** The encoded size of the live document when last measured (0 until the first measure; a generation's snapshot counts as one). */
  private measuredBytes = 0;
  private rolloverDueSince: number | undefined;
  /** A later generation we asked a peer for (its whole document, the base of ours). */
  private pendingGen: { name: string; gen: Generation; from: string; askedAt: number } | undefined;
  /** Task ids new to this replica that the archive may know (see `restoreFromArchive`). */
  private readonly toCheck = new Set<string>();
  /** Chain of archive writes and compactions after generation changes. */
  private genWork: Promise<void> = Promise.resolve();
  /** Yjs client ids of earlier generations' documents: updates carrying them are stale. */
  readonly retiredClients = new Set<number>();
  private readonly countBytes = (u: Uint8Array) => {
    this.genBytes += u.byteLength;
  };

  constructor(
    private readonly ctx: PeerContext,
    private readonly deps: GenerationsDeps,
  ) {
    deps.sync.on('laterGeneration', ({ from, name }) => this.onLater(from, name, undefined));
    deps.sync.on('base', ({ from, name, update }) => this.onLater(from, name, update));
  }

  /** The generation read back from storage holds `bytes`: bytes of every update from now on count. */
  loaded(bytes: number): void {
    this.genBytes = bytes;
    this.deps.live.doc.on('update', this.countBytes);
  }

  /** The peer started at `now`: the generation's age counts from then. */
  started(now: number): void {
    this.genStartedAt = now;
  }

  /** The live document was replaced: count the new one's updates. */
  follow(doc: Y.Doc, previous: Y.Doc): void {
    previous.off('update', this.countBytes);
    doc.on('update', this.countBytes);
  }

  /**
   * A task new to this replica (or a record of it written here after it left) that the archive may
   * know: look at it on the next tick. A task that just left (no spec, no fact) has nothing to
   * bring back: restoreFromArchive would pass it over after reading its record.
   */
  noteNew(id: string): void {
    const board = this.ctx.board();
    if (!board.getSpec(id) && board.factKeysOf(id).length === 0) return;
    if (this.deps.archive.mightHave(id)) this.toCheck.add(id);
  }

  /** When the next rollover check is due (its clock). */
  get nextCheckAt(): number {
    return this.lastRolloverCheck + this.deps.rollover.checkMs;
  }

  /**
   * Starts a new generation now if one is due (called from the main loop every `checkMs`): when
   * the live document holds many tombstones (entries deleted by archival) and few live tasks, so
   * the copy is small and clears them; or when the document is over its size budget. Finished
   * tasks leave by archival (archiver.ts), not here.
   */
  maybeRollover(now: number): void {
    const { ctx, deps } = this;
    const policy = deps.rollover;
    if (ctx.quiet() || !deps.caughtUp() || this.pendingGen || now - this.lastRolloverCheck < policy.checkMs) return;
    // Archive writes that failed hold their tasks only in this generation's log (a restart replays
    // from the newest generation's marker): no new generation from here until they are written.
    if (deps.archiveBehind()) return;
    this.lastRolloverCheck = now;
    const board = ctx.board();
    const age = now - this.genStartedAt;
    const tombstones = deps.tombstones();
    // The byte count only grows (every update adds): measure the real size, rarely, once it is large.
    if (this.genBytes > policy.maxDocBytes && now - this.lastMeasured >= 30_000) {
      this.lastMeasured = now;
      this.genBytes = this.measuredBytes = Y.encodeStateAsUpdate(deps.live.doc).byteLength;
    }
    // Worth it when the copy (the live entries) is no bigger than what it clears (the tombstones).
    const cleanup = tombstones >= policy.maxTombstones && board.entryCount() <= 2 * tombstones;
    // Oversize only by a measure: the count overstates a document with many peers' small updates
    // (30 peers passed 4 MiB of updates in seconds, with a 2.6 MB document), and a generation no
    // bigger document needs makes every peer fetch and check the whole of it.
    const oversize = this.measuredBytes > policy.maxDocBytes && age >= 60_000;
    if (!cleanup && !oversize) {
      this.rolloverDueSince = undefined;
      return;
    }
    const cut: Generation = { n: deps.live.generation.n + 1, at: Math.max(1, Math.round(now)), keep: board.taskCount, by: ctx.id };
    this.rolloverDueSince ??= now;
    // One peer usually starts it: the alive peers take turns by a hash of the generation number.
    const alive = deps.liveness.aliveEligiblePeers(now).map((p) => p.id);
    alive.sort((a, b) => unitHash('gen', cut.n, a) - unitHash('gen', cut.n, b) || (a < b ? -1 : 1));
    const rank = Math.max(0, alive.indexOf(ctx.id));
    if (now - this.rolloverDueSince < rank * policy.staggerMs) return;
    this.enter(cut, undefined);
  }

  /**
   * A message of a later generation arrived: fetch that generation's document (its base), then
   * move to it once the base is here.
   */
  private onLater(from: string, name: string, base: Uint8Array | undefined): void {
    const { ctx, deps } = this;
    if (ctx.stopped()) return;
    const g = parseGeneration(name);
    if (!g || compareGenerations(g, deps.live.generation) <= 0) return;
    if (g.at > ctx.clock.now() + 24 * 3600_000) {
      ctx.log.log('warn', 'ignored a generation from the future', { from, name });
      return;
    }
    if (base !== undefined) {
      if (this.pendingGen && compareGenerations(this.pendingGen.gen, g) > 0) return;
      const problem = checkUpdate(base);
      if (problem) {
        ctx.log.log('warn', 'rejected a generation base', { from, name, reason: problem });
        return;
      }
      this.enter(g, { from, update: base });
      return;
    }
    const now = ctx.clock.now();
    const p = this.pendingGen;
    if (p && compareGenerations(p.gen, g) >= 0 && now - p.askedAt < Math.max(250, 4 * deps.sync.maxRtt())) return;
    this.pendingGen = { name, gen: g, from, askedAt: now };
    ctx.log.log('debug', 'asking for a later generation', { from, name });
    deps.sync.requestBase(from, name);
  }

  /**
   * Moves to generation `g`: a fresh document gets the base (when another peer started it), then
   * every entry of ours it lacks except finished tasks the cut archives; the archive gets those.
   */
  private enter(g: Generation, base: { from: string; update: Uint8Array } | undefined): void {
    const { ctx, deps } = this;
    const now = ctx.clock.now();
    const old = deps.live.board;
    const oldDoc = deps.live.doc;
    const gen = deps.live.generation;
    const { doc, board } = deps.newDocument();
    const oldName = gen.n === 0 ? encodeGeneration(GENESIS) : encodeGeneration(gen);
    const mine = [...old.lineage(), oldName].slice(-32);
    // Nothing is archived at a generation change (archival deletes entries as tasks finish): the
    // new document holds every live entry, without the old one's tombstones.
    const drop = new Set<string>();
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
        // Only what was archived without waiting for every known peer can lack runs the other
        // side made; the rest was held by everyone (on disk) when it left, so both sides agree.
        reinsert = ours.flatMap((n) => deps.archive.byGeneration(n)).filter((r) => r.partial === true);
        ctx.log.log('info', 'merging a generation branch', { ours: ours.length, reinserted: reinsert.length, common: common ?? null });
      }
    } else board.setLineage(mine);
    const records = old.copyInto(board, drop); // carries the first-sighting times too
    for (const r of signedFromArchive(board, deps.archive, reinsert)) board.restore(r);
    // A task we archive now that the base still holds (its starter missed how it ended) gets the
    // facts we have and it lacks, so it ends there as it ended here instead of running again.
    for (const r of records) if (board.getSpec(r.id)) board.restore(r);
    // Tasks whose archive writes failed are only in the old generation's log, which a restart no
    // longer replays: they go back into the live document, and leave it (archived) again from there.
    let unmade = 0;
    for (const u of deps.takeUnwritten()) {
      for (const r of board.signedRecords(u.records, (key) => u.sheets?.get(key))) if (!board.getSpec(r.id)) unmade += Math.min(1, board.restore(r));
    }
    if (unmade > 0) ctx.log.log('warn', 'tasks whose archive writes failed: written back into the new generation', { tasks: unmade });
    board.markGeneration(g);
    const name = encodeGeneration(g);
    const archived: ArchiveRecord[] = [];
    for (const client of Y.decodeStateVector(Y.encodeStateVector(oldDoc)).keys()) this.retiredClients.add(client);
    this.genStartedAt = this.genEnteredAt = now;
    this.settled_ = false;
    this.pendingGen = undefined;
    this.rolloverDueSince = undefined;
    const snapshot = Y.encodeStateAsUpdate(doc);
    this.genBytes = this.measuredBytes = snapshot.byteLength;
    deps.durability.logGeneration(snapshot);
    deps.entered();
    // Every part follows the new document (storage, main loop, sync, websocket clients).
    deps.live.replace(doc, board, g);
    for (const id of drop) deps.forget(id);
    const back: ArchiveRecord[] = [];
    for (const id of board.taskIds()) {
      deps.markDirty(id);
      if (old.getSpec(id) || !deps.archive.mightHave(id)) continue;
      // A task of the base that this replica had archived: the base's starter had not seen it
      // leave. If every known peer held it when it left, it gets its archived facts now, ends as
      // it ended, and leaves again by archival (archiver.ts); otherwise it may lack its outcome:
      // restore it. It is not deleted here, right after the move: another peer may have carried
      // the same entries into this generation as items this replica has not received, and a
      // deletion of the items it holds would leave theirs (a spec without its facts runs again).
      // Archival deletes only what every known peer holds, so it deletes every copy.
      const rec = deps.archive.get(id);
      if (rec && rec.partial !== true) back.push(rec);
      else this.toCheck.add(id);
    }
    // Signed again in one call: each batch they refer to is loaded (decoded, its Merkle levels
    // built) once for all its records. One call per record built a 500-entry batch's levels per
    // record and blocked the peer for seconds at a generation change: leases lapsed, tasks ran twice.
    for (const r of signedFromArchive(board, deps.archive, back)) board.restore(r);
    ctx.log.log('info', 'new document generation', { generation: name, startedBy: g.by === ctx.id ? 'this peer' : g.by, archived: archived.length, kept: board.taskCount, bytes: snapshot.byteLength });
    ctx.emit('generation', { name, n: g.n, archived: archived.length, kept: board.taskCount, startedBy: g.by, docBytes: snapshot.byteLength });
    // The archive is durable before the log that still holds the archived tasks is compacted away.
    this.genWork = this.genWork
      .then(async () => {
        if (archived.length > 0) await deps.archive.append(archived);
        if (ctx.stopped()) return;
        await deps.durability.flush();
        if (!ctx.stopped()) await deps.durability.compact();
      })
      .catch((e: unknown) => ctx.log.log('error', 'archiving or compaction after a generation change failed', { error: (e as Error).message }));
    ctx.processSoon();
  }

  /**
   * Right after a generation change (or while fetching a later generation) this peer neither bids
   * nor claims until every peer it sees alive has announced its state in the new generation and
   * this peer holds all of it: bids and claims peers wrote in the old generation reach the new one
   * only when they move (they carry what they hold), and an award made before that could run a
   * task twice. A peer that never moves stops counting once it is no longer seen alive; the wait is
   * capped (MAX_SETTLE_MS) so a stuck peer cannot stop the mesh.
   */
  settling(now: number): boolean {
    if (this.pendingGen !== undefined) return true;
    if (this.settled_ || this.genEnteredAt === -Infinity) return false;
    const since = now - this.genEnteredAt;
    if (since < Math.max(4 * this.ctx.timing.bidWindowMs, 4 * this.deps.sync.maxRtt(), 60)) return true;
    if (since < MAX_SETTLE_MS) {
      for (const p of this.ctx.board().peers()) {
        if (p.id === this.ctx.id || !this.deps.liveness.isAlive(p.id, now)) continue;
        const sv = this.deps.sync.stateVectorOf(p.id);
        if (!sv || !this.deps.sync.holds(sv)) return true;
      }
    }
    this.settled_ = true;
    return false;
  }

  /** True while a generation change is under way or not yet settled (see settling). */
  get changing(): boolean {
    return this.pendingGen !== undefined || (!this.settled_ && this.genEnteredAt !== -Infinity);
  }

  /** Bytes of updates since the generation began (an upper estimate of the encoded document). */
  get bytes(): number {
    return this.genBytes;
  }

  /** Waits for the archive writes and compaction of past generation changes. */
  async settled(): Promise<void> {
    await this.genWork;
  }

  /**
   * Tasks that came back into the live document (from a replica that had missed their end) get
   * their archived facts again, so they end as they ended before instead of running again.
   */
  restoreFromArchive(): void {
    if (this.toCheck.size === 0) return;
    const ids = [...this.toCheck];
    this.toCheck.clear();
    const board = this.ctx.board();
    const back: ArchiveRecord[] = [];
    for (const id of ids) {
      const rec = this.deps.archive.get(id);
      if (!rec) continue;
      // A task back in the live document (its spec is here) gets what the archive knows of it. A
      // task that left comes back only with facts its archived record lacks (a run another peer
      // made and this one archived without): then it is decided again with every fact, and leaves
      // again the same way everywhere. The deletion's own change brings nothing new.
      if (!board.getSpec(id) && board.factKeysOf(id).every((k) => k in rec.facts)) continue;
      back.push(rec);
    }
    // Signed again in one call (see enter): each batch's levels are built once, not per record.
    for (const rec of signedFromArchive(board, this.deps.archive, back)) {
      const n = board.restore(rec);
      if (n > 0) {
        this.ctx.counters.restores++;
        this.ctx.log.log('info', 'restored an archived task that came back without its outcome', { task: rec.id, entries: n });
        this.ctx.emit('restored', { id: rec.id, entries: n });
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
}
