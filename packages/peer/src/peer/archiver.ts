// Archival by deletion: finished tasks past the retention (or beyond the newest `maxFinished`)
// leave the live document when every present peer holds all of their entries: one peer (the
// first of a rendezvous order among the alive peers, the others after a stagger) deletes their
// entries in one transaction, and every replica that sees the deletion puts the tasks in its own
// archive. A task batch leaves only with all its tasks. A deletion leaves a small tombstone in the
// document; a new generation (generations.ts) clears those now and then.

import * as Y from 'yjs';
import { MeshError, deriveTask, finishedAt, selectArchivable, unitHash, type FinishedTask, type TaskFacts, type TaskSpec } from '@agentmesh/scheduler';
import { factsFromRecord, type Archive, type ArchiveRecord, type TaskBoard, type TaskRecord } from '@agentmesh/crdt-store';
import type { Presence } from './presence.js';
import type { PeerContext } from './context.js';
import type { LiveDocument } from './live-document.js';
import type { Liveness } from './liveness.js';
import { keepFor, type RolloverPolicy } from './rollover.js';
import { archiveUnits } from './archive-units.js';
import { ARCHIVE_SLICE_GAP_MS, ARCHIVE_SLICE_TASKS, lookPiece, sliceGap } from './archive-pacing.js';
import type { Views } from './views.js';

export interface ArchiverDeps {
  live: LiveDocument;
  views: Views;
  archive: Archive;
  liveness: Liveness;
  presence: Presence;
  rollover: RolloverPolicy;
  /** Tasks running here (never archived while they run). */
  running: () => Iterable<string>;
  /**
   * True while a record of this task (a run here that ended or started) waits to be written into
   * the document: the task is not deleted meanwhile, or this replica would archive it without that
   * run while every replica that took the deletion and the record in together archives it with it.
   */
  writing: (id: string) => boolean;
  caughtUp: () => boolean;
  /** When this peer started (its clock). */
  startedAt: () => number;
  /** Bytes of the live document (an upper estimate). */
  docBytes: () => number;
  /** A task left the live document: every part forgets it. */
  forget: (id: string) => void;
}

/**
 * The tasks every known peer holds entirely *on disk* (the durable state vector of its latest
 * presence covers each of their entries). A task some peer may lack a fact of stays live:
 * archiving it would freeze an outcome that peer could decide differently (both sides of a
 * partition archiving their own runs of one task would never compare them, and a peer that
 * crashed before its disk had a fact would come back without it). A peer away longer than
 * `forgetAfterMs` (a dead one) is no longer waited for; a known peer this one has not heard from
 * since it started is waited for too (up to the same bound). And this replica must hold everything
 * each of them has on disk: else it may lack a run another peer made of a task it sees finished
 * (a dropped message), and would archive an outcome the others decide differently.
 */
/**
 * Archived records as restore() must write them: their batch entries refer to batches kept in the
 * archive's sheets (BatchSigs.ref) and are signed again from those.
 */
export function signedFromArchive(board: TaskBoard, archive: Archive, records: readonly TaskRecord[]): TaskRecord[] {
  return board.signedRecords(records, (key) => archive.sheet?.(key));
}

export function stableTasks(ctx: PeerContext, presence: Presence, generation: string, ids: Iterable<string>, now: number, startedAt: number, forgetAfterMs: number): Set<string> {
  const board = ctx.board();
  const local = Y.decodeStateVector(Y.encodeStateVector(board.doc));
  const svs: ReadonlyMap<number, number>[] = [];
  for (const p of board.peers()) {
    if (p.id === ctx.id) continue;
    const heard = presence.seenAt(p.id) ?? startedAt;
    if (now - heard > forgetAfterMs) continue;
    const sv = presence.durableOf(p.id, generation);
    if (!sv) return new Set();
    for (const [client, clock] of sv) if ((local.get(client) ?? 0) < clock) return new Set();
    svs.push(sv);
  }
  const out = new Set<string>();
  for (const id of ids) {
    if (board.taskItemIds(id).every(({ client, clock }) => svs.every((sv) => (sv.get(client) ?? 0) > clock))) out.add(id);
  }
  return out;
}

/** An archive append that failed, kept to be written again. */
export interface Unwritten {
  records: ArchiveRecord[];
  parsed: Map<ArchiveRecord, TaskFacts> | undefined;
  sheets: ReadonlyMap<string, Uint8Array> | undefined;
}

export class Archiver {
  /** Finished live tasks as last derived. */
  private readonly finished = new Map<string, FinishedTask>();
  /** Unfinished live tasks that depend on others (their dependencies stay live). */
  private readonly waiting = new Map<string, readonly string[]>();
  private lastCheck = -Infinity;
  /** Units (key, task ids) the last look found, examined a piece per turn from `examNext` on (see examine). */
  private found: [string, string[]][] = [];
  private examNext = 0;
  /** Keys of the units the last look found that were examined: the others stop counting as due (dueSince). */
  private readonly examined = new Set<string>();
  /** Units (task ids) the last look found due here, in order; those from `dueNext` on are not deleted yet. */
  private due: (readonly string[])[] = [];
  private dueNext = 0;
  private lastSlice = -Infinity;
  /** Pause between the slices of the last look (ARCHIVE_SPREAD). */
  private sliceGapMs = ARCHIVE_SLICE_GAP_MS;
  /** Since when each unit (task batch key or single task id) has been due here. */
  private readonly dueSince = new Map<string, number>();
  /** Entries deleted from the live document since its generation began (its tombstones). */
  tombstones = 0;
  /** Archive writes in order (durable before what depends on them). */
  private work: Promise<void> = Promise.resolve();
  /**
   * Appends that failed, written again by settled() (a compaction waits for it): until one is
   * written, what it holds is only in the update log, and the log is not compacted.
   */
  private unwritten: Unwritten[] = [];

  constructor(
    private readonly ctx: PeerContext,
    private readonly deps: ArchiverDeps,
  ) {}

  /** The main loop derived a task: finished ones become candidates. */
  note(id: string, spec: TaskSpec, facts: TaskFacts, terminal: boolean): void {
    if (terminal) {
      this.waiting.delete(id);
      if (!this.finished.has(id)) this.finished.set(id, { id, finishedAt: finishedAt(facts), dependsOn: spec.dependsOn });
    } else {
      this.finished.delete(id);
      if (spec.dependsOn.length > 0) this.waiting.set(id, spec.dependsOn);
      else this.waiting.delete(id);
    }
  }

  forget(id: string): void {
    this.finished.delete(id);
    this.waiting.delete(id);
  }

  /** A new generation began: its document has no tombstones. */
  newGeneration(): void {
    this.tombstones = 0;
    this.dueSince.clear();
    this.due = [];
    this.dueNext = 0;
    this.dropLook();
  }

  /** Forgets the units the last look found and which of them were examined. */
  private dropLook(): void {
    this.found = [];
    this.examNext = 0;
    this.examined.clear();
  }

  /** Live tasks this replica has not seen end (derived in a pass), and whether a look is being examined or deletion slices are due. */
  get busy(): boolean {
    return this.ctx.board().taskCount > this.finished.size || this.examNext < this.found.length || this.dueNext < this.due.length;
  }

  /** When the next look for archivable tasks is due (its clock); never while no task has ended. */
  get nextCheckAt(): number {
    return this.finished.size === 0 ? Infinity : this.lastCheck + this.deps.rollover.checkMs;
  }

  /**
   * Deletes what is due and stable (main loop): looks every `checkMs` for finished tasks to archive,
   * examines what it found a piece per turn (examine), then deletes what is due in slices of about
   * ARCHIVE_SLICE_TASKS tasks spread over ARCHIVE_SPREAD of the time to the next look (sliceGap),
   * so that no turn of the loop (here, and on every replica taking the deletion in) stalls on many
   * tasks, nor do the slices of one look come back to back.
   */
  maybeArchive(now: number): void {
    const { ctx, deps } = this;
    const policy = deps.rollover;
    if (ctx.quiet() || !deps.caughtUp()) return;
    if (now - this.lastCheck < policy.checkMs) {
      if (this.examNext < this.found.length) this.examine(now);
      else if (this.dueNext < this.due.length && now - this.lastSlice >= this.sliceGapMs) this.deleteSlice(now);
      return;
    }
    this.due = [];
    this.dueNext = 0;
    this.dropLook();
    if (this.finished.size === 0) return;
    this.lastCheck = now;
    const board = ctx.board();
    const unfinished = board.taskCount - this.finished.size;
    const keep = keepFor(policy, deps.docBytes(), board.taskCount, unfinished);
    const liveDeps: string[] = [];
    for (const d of this.waiting.values()) liveDeps.push(...d);
    const selected = new Set(selectArchivable([...this.finished.values()], liveDeps, { at: now, keep, retentionMs: policy.retentionMs }));
    if (selected.size === 0) {
      this.dueSince.clear();
      return;
    }
    for (const id of deps.running()) selected.delete(id);
    // Units: a task batch goes only with every one of its tasks (and with its rivals: archive-units.ts).
    // They are examined from the next turn on.
    this.found = [...archiveUnits(board, selected)];
  }

  /**
   * Examines the next piece of the units the last look found (about LOOK_PIECE_TASKS tasks): a unit
   * whose tasks every peer holds is due here once its turn comes (the alive peers take turns by a
   * hash of the unit, `staggerMs` apart). After the last piece, units no longer found stop counting
   * as due, and the deletion of what is due begins.
   */
  private examine(now: number): void {
    const { ctx, deps } = this;
    const policy = deps.rollover;
    const piece = lookPiece(this.found, this.examNext);
    this.examNext += piece.length;
    const stable = stableTasks(ctx, deps.presence, deps.live.name, piece.flatMap(([, ids]) => ids), now, deps.startedAt(), policy.forgetPeersAfterMs);
    const alive = deps.liveness.aliveEligiblePeers(now).map((p) => p.id);
    for (const [key, ids] of piece) {
      this.examined.add(key);
      if (!ids.every((id) => stable.has(id))) continue;
      const since = this.dueSince.get(key) ?? now;
      this.dueSince.set(key, since);
      // One peer usually does it: the alive peers take turns by a hash of the unit.
      const order = [...alive].sort((a, b) => unitHash('archive', key, a) - unitHash('archive', key, b) || (a < b ? -1 : 1));
      const rank = Math.max(0, order.indexOf(ctx.id));
      if (now - since < rank * policy.staggerMs) continue;
      this.due.push(ids);
    }
    if (this.examNext < this.found.length) return;
    for (const key of this.dueSince.keys()) if (!this.examined.has(key)) this.dueSince.delete(key);
    this.dropLook();
    if (this.due.length === 0) return;
    this.sliceGapMs = sliceGap(this.due, policy.checkMs);
    this.deleteSlice(now);
  }

  /**
   * Deletes the next slice of the units found due: whole units (a task batch goes with all its
   * tasks) up to ARCHIVE_SLICE_TASKS tasks (at least one unit). A unit whose tasks changed since
   * (one is no longer finished here, runs here, or took a fact some peer may not hold yet) stays
   * for the next look.
   */
  private deleteSlice(now: number): void {
    const { ctx, deps } = this;
    this.lastSlice = now;
    const running = new Set(deps.running());
    const slice: (readonly string[])[] = [];
    let tasks = 0;
    while (this.dueNext < this.due.length && (slice.length === 0 || tasks < ARCHIVE_SLICE_TASKS)) {
      const ids = this.due[this.dueNext++]!;
      if (ids.some((id) => !this.finished.has(id) || running.has(id) || deps.writing(id))) continue;
      slice.push(ids);
      tasks += ids.length;
    }
    if (slice.length === 0) return;
    const stable = stableTasks(ctx, deps.presence, deps.live.name, slice.flat(), now, deps.startedAt(), deps.rollover.forgetPeersAfterMs);
    const go = new Set<string>();
    for (const ids of slice) if (ids.every((id) => stable.has(id))) for (const id of ids) go.add(id);
    if (go.size === 0) return;
    const n = ctx.board().deleteTasks(go, (id) => deps.archive.has(id));
    if (n > 0) ctx.log.log('debug', 'archived finished tasks', { tasks: go.size, entries: n });
  }

  /**
   * Tasks left the live document (deleted by this peer or another): each finished one goes into
   * this peer's archive; one this replica still sees unfinished (it lacked facts the deleter had)
   * is written back, so it stays live until everyone agrees how it ended.
   */
  onRemoved(records: readonly TaskRecord[], deletedEntries: number, replay = false, sheets?: ReadonlyMap<string, Uint8Array>, known?: ReadonlyMap<string, TaskFacts>): void {
    const { ctx, deps } = this;
    const generation = deps.live.name;
    this.tombstones += deletedEntries;
    const now = ctx.clock.now();
    const archived: ArchiveRecord[] = [];
    const parsed = new Map<ArchiveRecord, TaskFacts>();
    const back: TaskRecord[] = [];
    // Some known peer is no longer waited for (away too long): what leaves now may lack its runs.
    const partial = this.skipsPeers(now);
    for (const rec of records) {
      this.forget(rec.id);
      deps.forget(rec.id);
      // The facts as the index held them (BoardChange.removedFacts), else parsed from the record.
      const facts = known?.get(rec.id) ?? factsFromRecord(rec);
      if (!facts) continue;
      const v = deriveTask(facts, {
        now,
        taskSeenAt: now,
        seenAt: () => now,
        lastSeen: () => now,
        depState: (dep) => deps.views.lastStateOf(dep) ?? deps.archive.get(dep)?.state,
        lease: ctx.timing.lease,
        backoff: ctx.timing.backoff,
        seed: ctx.meshSeed,
        knownPeers: deps.liveness.knownPeers(),
        candidates: deps.views.registry(),
      });
      if (v.state !== 'done' && v.state !== 'dead' && v.state !== 'cancelled') {
        // Replaying this peer's own log: the write-back that followed is in the log too.
        if (!replay) back.push(rec);
        continue;
      }
      // The record's own fields first, as `{ ...rec, state, ... }` would put them (the archive's
      // line is this object's JSON), without copying through a spread.
      const out: ArchiveRecord = {
        id: rec.id,
        spec: rec.spec,
        facts: rec.facts,
        ...(rec.coAssignees !== undefined ? { coAssignees: rec.coAssignees } : {}),
        state: v.state,
        finishedAt: finishedAt(facts),
        result: v.result?.result ?? null,
        peer: v.result?.peer ?? null,
        attempts: v.attempts,
        gen: generation,
        archivedAt: now,
        ...(partial ? { partial: true } : {}),
      };
      // Same spec and facts as `rec`: the archive's summary uses these instead of parsing again.
      archived.push(out);
      parsed.set(out, facts);
    }
    if (back.length > 0) {
      ctx.log.log('info', 'tasks left the live document before this replica saw them end: written back', { tasks: back.length });
      const board = ctx.board();
      const signed = board.signedRecords(back, (key) => sheets?.get(key));
      board.transact(() => {
        for (const r of signed) board.restore(r);
      });
    }
    if (archived.length > 0) {
      // Appended now, not after the writes before it: the archive orders its own writes, and
      // get() finds these records from this moment (they just left the live document). Chained
      // behind the previous write, a backlog of writes held every waiting record, its facts and
      // batch bytes in memory, and kept them from get().
      this.write(archived, parsed, sheets);
    }
  }

  /**
   * Facts of tasks live here that left with an activity batch another peer deleted (it had
   * archived those tasks already): written back as single entries, so the task ends here as it
   * ended there, and leaves again the same way everywhere.
   */
  keepDropped(records: readonly TaskRecord[], sheets?: ReadonlyMap<string, Uint8Array>): void {
    const { ctx } = this;
    const board = ctx.board();
    const signed = board.signedRecords(records, (key) => sheets?.get(key));
    let n = 0;
    board.transact(() => {
      for (const r of signed) n += board.restore(r);
    });
    if (n > 0) ctx.log.log('info', 'facts of live tasks left with an activity batch archived elsewhere: written back', { tasks: records.map((r) => r.id).slice(0, 20), entries: n });
  }

  /** True when archival does not wait for some known peer now (away longer than `forgetPeersAfterMs`). */
  private skipsPeers(now: number): boolean {
    const { ctx, deps } = this;
    const forget = deps.rollover.forgetPeersAfterMs;
    return ctx.board().peers().some((p) => p.id !== ctx.id && now - (deps.presence.seenAt(p.id) ?? deps.startedAt()) > forget);
  }

  /** True while archive writes that failed wait to be written again. */
  behind(): boolean {
    return this.unwritten.length > 0;
  }

  /** The archive writes that failed, given up here: a generation change writes their tasks back into the live document. */
  takeUnwritten(): Unwritten[] {
    return this.unwritten.splice(0);
  }

  /**
   * Appends records to the archive now (the archive orders its own writes); settled() waits for
   * it. A failure is logged and the records kept to be written again by settled().
   */
  private write(records: ArchiveRecord[], parsed?: Map<ArchiveRecord, TaskFacts>, sheets?: ReadonlyMap<string, Uint8Array>): void {
    const { ctx, deps } = this;
    const written = deps.archive.append(records, parsed, sheets).catch((e: unknown) => {
      ctx.log.log('error', 'archive write failed (written again before the update log is compacted)', { tasks: records.length, error: (e as Error).message });
      this.unwritten.push({ records, parsed, sheets });
    });
    this.work = this.work.then(() => written);
  }

  /**
   * Waits for the archive writes so far, and writes again those that failed. Rejects (ARCHIVE_FAILED)
   * when one fails again: a compaction waiting on this keeps the update log, which still holds
   * those tasks (a restart archives them from it).
   */
  settled(): Promise<void> {
    const retried = this.work.then(() => this.retryUnwritten());
    this.work = retried.catch(() => {});
    return retried;
  }

  private async retryUnwritten(): Promise<void> {
    const { ctx, deps } = this;
    while (this.unwritten.length > 0) {
      const u = this.unwritten[0]!;
      // A task archived again since (written back, then finished again) keeps its newer record.
      const records = u.records.filter((r) => {
        const had = deps.archive.mightHave(r.id) ? deps.archive.get(r.id) : undefined;
        return had === undefined || had.archivedAt <= r.archivedAt;
      });
      try {
        if (records.length > 0) await deps.archive.append(records, u.parsed, u.sheets);
      } catch (e) {
        throw new MeshError('ARCHIVE_FAILED', `archive write failed again (${records.length} tasks kept in the update log): ${(e as Error).message}`);
      }
      // (A generation change may have taken the list meanwhile.)
      const at = this.unwritten.indexOf(u);
      if (at >= 0) this.unwritten.splice(at, 1);
      ctx.log.log('info', 'archive write that had failed: written', { tasks: records.length });
    }
  }
}
