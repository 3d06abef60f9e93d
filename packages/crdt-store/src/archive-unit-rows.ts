// The file archive's unit rows (Node only): an append (an archival slice, about 64 records) is
// committed as one row of compact lines (batched entries as references to the sheets stored with
// it, archive-refs.ts; the generation, archive time and peer ids once per unit) instead of a search
// row per task: about 60-100 bytes a task instead of a 1.1 KB record line and its index entries. Under a steady load the per-task rows
// made, held and committed were what put the loaded p99 over its bar (docs/performance.md,
// "2026-12-05, midday"); a unit row committed at once costs about what no archive write costs.
// The search rows are made later from the unit rows on disk (materialize): when the archive has been
// idle a while, before a search, and when it opens. Until then `get` reads a task's unit row and
// makes its record whole from the sheets. The text of a unit row is archive-unit-lines.ts.

import type { Logger, TaskFacts } from '@agentmesh/scheduler';
import { summarizeRecord } from './archive-summary.js';
import type { ArchivedCount, ArchiveRecord, ArchivedState } from './archive.js';
import { insertRows, rowOf, type Db, type Row, type Statements } from './archive-db.js';
import { SheetReader, type DecodedSheets } from './archive-refs.js';
import { parseUnit, recordOfText, unchecked, unitBody, unitText, type Line, type UnitText } from './archive-unit-lines.js';
import { CompactIdMap } from './archive-id-map.js';
import { RecentMap } from './recent-map.js';

/** Quiet time (no append) after which the search rows of unit rows are made. */
const MAKE_ROWS_IDLE_MS = 1000;
/** Unit rows made per turn of the loop when idle (one: about 64 rows, a few ms). */
const MAKE_ROWS_UNITS = 1;
/** Pause between two such turns: the loop keeps most of its time for what comes meanwhile. */
const MAKE_ROWS_GAP_MS = 20;
/** Tasks waiting in unit rows past which each append also makes the rows of one unit row. */
const UNMADE_MAX = 200_000;

/**
 * UnitRows.get: the task's latest record is not in a unit row (never was, or the writer thread has
 * made its search rows meanwhile): read the search rows.
 */
export const IN_SEARCH_ROWS = Symbol('in search rows');

/**
 * A unit row: its seq (given at append time); its body until it is committed (and after a failed
 * commit); the generations of its records, and the dependencies of those that have some.
 */
export interface Unit {
  readonly seq: number;
  body: string | undefined;
  readonly gens: string[];
  readonly deps: Map<string, readonly string[]> | undefined;
}

/** A record's duplicate runs (successful runs other than the canonical one: none without two `done` facts). */
function duplicateRunsOf(r: ArchiveRecord, facts: TaskFacts | undefined): number {
  let dones = 0;
  for (const key in r.facts) if (key.includes('/done/')) dones++;
  return dones < 2 ? 0 : summarizeRecord(r, facts).duplicates;
}

/** What making one unit row's search rows did: the ids made and the duplicate runs they added. */
export interface MadeUnit {
  seq: number;
  ids: string[];
  dups: number;
}

/**
 * Makes the search rows of the unit rows `seqs` (those still there) and deletes those unit rows,
 * one transaction each, on the connection `db` (the writer thread's, or the loop's). What a row
 * replaces no longer counts its duplicate runs. A line that cannot be read or made whole is lost
 * (reported through `warn`).
 */
export function makeUnitRows(db: Db, st: Statements, seqs: readonly number[], sheet: (key: string) => Uint8Array | undefined, warn: (msg: string) => void): MadeUnit[] {
  const out: MadeUnit[] = [];
  const read = new SheetReader(sheet);
  for (const seq of seqs) {
    const body = st.unitBody.get(seq)?.body;
    if (body === undefined) continue;
    const rows: Row[] = [];
    const inUnit = new Map<string, number>();
    let dups = 0;
    const unit = parseUnit(body);
    if (!unit) warn(`archive: the header of unit row ${seq} fails its checksum; its records are lost`);
    for (const line of unit?.lines ?? []) {
      const rec = recordOfText(unit!.header, line, read);
      if (!rec) {
        warn(`archive: a line of unit row ${seq} cannot be read; its record is lost`);
        continue;
      }
      const row = rowOf(rec);
      const before = inUnit.get(row.id) ?? st.prev.get(row.id)?.duplicates ?? 0;
      dups += row.duplicates - before;
      inUnit.set(row.id, row.duplicates);
      rows.push(row);
    }
    db.transaction(() => {
      insertRows(db, st, rows);
      st.deleteUnit.run(seq);
    })();
    out.push({ seq, ids: rows.map((r) => r.id), dups });
  }
  return out;
}

export class UnitRows {
  /** Tasks whose latest record is in a unit row (search rows not made yet), and that unit. */
  readonly unmade = new CompactIdMap<Unit>();
  /** Units with records that have dependencies (dependents() looks only at these). */
  private readonly withDeps = new Set<Unit>();

  constructor(
    private readonly db: Db,
    private readonly st: Statements,
    private readonly sheet: (key: string) => Uint8Array | undefined,
    private readonly logger: Logger,
    /** A search row was made for this id (the archive's Bloom filter learns it). */
    private readonly rowMade: (id: string) => void,
  ) {
    this.nextSeq = (st.maxUnitSeq.get()?.seq ?? 0) + 1;
  }

  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** The seq the next unit row gets: seqs follow append order, whichever connection commits a unit first. */
  private nextSeq: number;
  /** Seqs of unit rows being committed: rows are made only of the units older than all of them. */
  private readonly inFlight = new Set<number>();

  /**
   * Commits records as one unit row through `write` (the writer thread, or the loop's connection),
   * as the next seq. Past UNMADE_MAX tasks waiting in unit rows, the rows of one unit row are made
   * first (`make`).
   */
  async append(records: readonly ArchiveRecord[], parsed: ReadonlyMap<ArchiveRecord, TaskFacts> | undefined, write: (seq: number, body: string) => Promise<void>, make: (maxUnits: number) => number): Promise<void> {
    const unit = this.add(records, unitBody(records));
    for (const r of records) {
      const d = duplicateRunsOf(r, parsed?.get(r));
      if (d > 0) this.unmadeDups.set(r.id, d);
      else this.unmadeDups.delete(r.id);
    }
    if (this.unmade.size > UNMADE_MAX) make(1);
    this.inFlight.add(unit.seq);
    try {
      await write(unit.seq, unit.body!);
      unit.body = undefined;
    } catch (e) {
      // Not kept: its duplicate runs do not count (an append of them again counts them).
      for (const r of records) if (this.unmade.get(r.id) === unit) this.unmadeDups.delete(r.id);
      throw e;
    } finally {
      this.inFlight.delete(unit.seq);
    }
  }

  /** Duplicate runs of the unmade tasks that have some (what their records say), until their rows are made. */
  private readonly unmadeDups = new Map<string, number>();

  /**
   * The duplicate runs waiting in unit rows, less those of the search rows they will replace (the
   * archive counts a row's duplicate runs once it is made: without these, status said 0 while a
   * task's second run waited in a unit row).
   */
  pendingDuplicateRuns(): number {
    let n = 0;
    for (const [id, d] of this.unmadeDups) {
      if (!this.unmade.has(id)) this.unmadeDups.delete(id);
      else n += d - (this.st.prev.get(id)?.duplicates ?? 0);
    }
    return n;
  }

  /** An append came: once none came for MAKE_ROWS_IDLE_MS, the rows are made (`make`), a few unit rows at a time. */
  whenIdle(make: (maxUnits: number) => Promise<number>): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const step = async (): Promise<void> => {
      this.idleTimer = undefined;
      if ((await make(MAKE_ROWS_UNITS)) < MAKE_ROWS_UNITS || this.idleTimer !== undefined) return;
      this.idleTimer = setTimeout(() => void step(), MAKE_ROWS_GAP_MS);
      this.idleTimer.unref?.();
    };
    this.idleTimer = setTimeout(() => void step(), MAKE_ROWS_IDLE_MS);
    this.idleTimer.unref?.();
  }

  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** A new unit (the next seq) of `records` with `body`: its records are the latest of their ids. */
  private add(records: readonly ArchiveRecord[], body: string): Unit {
    const gens = new Set<string>();
    let deps: Map<string, readonly string[]> | undefined;
    for (const r of records) {
      gens.add(r.gen);
      const dependsOn = (r.spec as { dependsOn?: unknown } | undefined)?.dependsOn;
      if (Array.isArray(dependsOn) && dependsOn.length > 0) (deps ??= new Map()).set(r.id, dependsOn.filter((d): d is string => typeof d === 'string'));
    }
    const unit: Unit = { seq: this.nextSeq++, body, gens: [...gens], deps };
    for (const r of records) this.unmade.set(r.id, unit);
    if (deps) this.withDeps.add(unit);
    return unit;
  }

  /** A newer record of `id` was stored another way (a search row committed on the loop). */
  drop(id: string): void {
    this.unmade.delete(id);
  }

  /** The state of an unmade task (read from its line: asked only when a task is archived again). */
  state(id: string): ArchivedState | undefined {
    const c = this.counted(id);
    return c === IN_SEARCH_ROWS ? undefined : c?.state;
  }

  /**
   * The state and duplicate runs of an unmade task, from its line and the counts kept in memory: no
   * sheet is decoded. (Status used to make each such task's record whole: with thousands of finished
   * tasks both live and archived on a starved peer, one status call took seconds, and the metrics
   * sample and every poll called it again.) IN_SEARCH_ROWS as `get` answers it.
   */
  counted(id: string): ArchivedCount | typeof IN_SEARCH_ROWS | undefined {
    const u = this.unmade.get(id);
    const text = u && this.textOf(u);
    if (text === undefined) return IN_SEARCH_ROWS;
    const line = text.lines.get(id);
    const parsed = line === undefined ? undefined : (unchecked(line) as Line | undefined);
    return Array.isArray(parsed) ? { state: parsed[1], duplicates: this.unmadeDups.get(id) ?? 0 } : undefined;
  }

  /** Unit texts and decoded sheets read lately (many tasks of one unit are asked about in a row). */
  private readonly recentTexts = new RecentMap<number, UnitText>(4);
  private readonly recentSheets: DecodedSheets = new RecentMap(8);
  /**
   * A unit's text, indexed (until committed, from the body in memory); undefined once its row is
   * gone from disk, unless read lately (its records are then the ones its search rows were made of).
   */
  private textOf(u: Unit): UnitText | undefined {
    let text = this.recentTexts.get(u.seq);
    if (text) return text;
    const body = u.body ?? this.st.unitBody.get(u.seq)?.body;
    if (body === undefined) return undefined;
    this.recentTexts.set(u.seq, (text = unitText(body)));
    return text;
  }

  /**
   * The record of an unmade task, whole (undefined when its unit row cannot be read).
   * IN_SEARCH_ROWS for a task not in a unit row, and for one whose unit row is no longer there:
   * the writer thread has made its search rows and deleted it, and the loop has not heard yet
   * (until the fix of 2026-12-05 such a task was taken for missing in that window, and a
   * generation change then ran it again).
   */
  get(id: string, decoded?: DecodedSheets): ArchiveRecord | typeof IN_SEARCH_ROWS | undefined {
    const u = this.unmade.get(id);
    if (!u) return IN_SEARCH_ROWS;
    const text = this.textOf(u);
    if (text === undefined) return IN_SEARCH_ROWS;
    const line = text.lines.get(id);
    const rec = text.header && line ? recordOfText(text.header, line, new SheetReader(this.sheet, decoded ?? this.recentSheets)) : undefined;
    if (!rec) this.logger.log('warn', `archive: the unit row of ${id.slice(0, 80)} cannot be read`);
    return rec;
  }

  /** Unmade tasks of generation `gen`, whole (those whose rows the thread made meanwhile: not here). */
  byGeneration(gen: string): ArchiveRecord[] {
    const decoded: DecodedSheets = new Map();
    // By unit, so that each unit's text is read and indexed once.
    const byUnit = new Map<Unit, string[]>();
    for (const [id, u] of this.unmade.entries()) if (u.gens.includes(gen)) (byUnit.get(u) ?? byUnit.set(u, []).get(u)!).push(id);
    const out: ArchiveRecord[] = [];
    for (const ids of byUnit.values()) {
      for (const id of ids) {
        const r = this.get(id, decoded);
        if (r !== IN_SEARCH_ROWS && r?.gen === gen) out.push(r);
      }
    }
    return out;
  }

  /** Unmade tasks that depend on `id`. */
  dependents(id: string): string[] {
    const out: string[] = [];
    for (const u of this.withDeps) for (const [task, deps] of u.deps!) if (deps.includes(id) && this.unmade.get(task) === u) out.push(task);
    return out;
  }

  /** Unit rows being made on the writer thread: meanwhile the loop makes none. */
  private readonly making = new Set<number>();

  /**
   * The oldest committed unit rows, up to `max`, none of them at or past a unit still being
   * committed, and none while others are being made. Rows are made in append order, once each: a
   * task's later record replaces its earlier one, and what a row replaces stops counting its
   * duplicate runs (read before the row is made, so two connections making rows at once would both
   * count against the same earlier row).
   */
  private pick(max: number): number[] {
    if (this.making.size > 0) return [];
    let before = Number.POSITIVE_INFINITY;
    for (const seq of this.inFlight) before = Math.min(before, seq);
    const seqs = this.st.unitSeqs.all(max).map((r) => r.seq);
    const stop = seqs.findIndex((seq) => seq >= before);
    return stop < 0 ? seqs : seqs.slice(0, stop);
  }

  /** Unit rows handed to the writer thread to make. */
  private handedOver(seqs: readonly number[]): void {
    for (const seq of seqs) this.making.add(seq);
  }

  /** What making unit rows did (here or on the thread); returns the duplicate runs they added. */
  private made(units: readonly MadeUnit[], handed: readonly number[] = []): number {
    for (const seq of handed) this.making.delete(seq);
    let dups = 0;
    for (const m of units) {
      dups += m.dups;
      for (const id of m.ids) {
        this.rowMade(id);
        if (this.unmade.get(id)?.seq === m.seq) this.unmade.delete(id);
      }
      for (const u of this.withDeps) if (u.seq === m.seq) this.withDeps.delete(u);
    }
    return dups;
  }

  /**
   * Makes the search rows of the oldest committed unit rows (up to `maxUnits`) on the writer thread
   * `w`. Returns the duplicate runs the rows add and how many unit rows were made; when the thread
   * fails, none: those unit rows stay, and are made on the loop later.
   */
  async makeOn(w: { makeRows(seqs: number[]): Promise<{ made: MadeUnit[]; warnings: string[] }> }, maxUnits: number): Promise<{ dups: number; units: number }> {
    const seqs = this.pick(maxUnits);
    if (seqs.length === 0) return { dups: 0, units: 0 };
    this.handedOver(seqs);
    try {
      const r = await w.makeRows(seqs);
      for (const m of r.warnings) this.logger.log('warn', m);
      return { dups: this.made(r.made, seqs), units: r.made.length };
    } catch {
      this.made([], seqs);
      return { dups: 0, units: 0 };
    }
  }

  /**
   * Makes the search rows of the oldest committed unit rows (up to `maxUnits`) here, on the loop's
   * connection (a search, close, open). Returns the duplicate runs the rows add and how many unit
   * rows were made.
   */
  materialize(maxUnits = Number.MAX_SAFE_INTEGER): { dups: number; units: number } {
    const done = makeUnitRows(this.db, this.st, this.pick(maxUnits), this.sheet, (m) => this.logger.log('warn', m));
    return { dups: this.made(done), units: done.length };
  }
}
