// The file archive of a peer (Node only): finished tasks that left the live document, in one SQLite
// database (archive.db, WAL, every commit fsynced) with indexes on state, type, peer, submit and
// finish time and generation, so `agentmesh list` and the dashboard's task table search archived
// tasks as fast as live ones, and `get`/`status` read one row. An append is committed as one unit
// row on a writer thread at the lowest CPU priority (archive-writer.ts, archive-unit-rows.ts), and
// its search rows are made later; the promise resolves once it is on disk, so an acknowledged
// append survives kill -9 (SQLite ignores a torn WAL tail). Each row is checksummed
// (archive-db.ts): on open every row is checked, and a damaged database is salvaged with the
// damaged file kept aside (archive-open.ts). Searches are archive-query.ts. A fixed-size Bloom
// filter answers "surely not archived" without a query (live finished tasks are asked about often).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveLogger, type Logger, type TaskFacts } from '@agentmesh/scheduler';
import { BloomFilter, emptyCounts, type Archive, type ArchiveCounts, type ArchivedCount, type ArchiveRecord, type ArchivedState } from './archive.js';
import { parseArchiveLine } from './archive-lines.js';
import type { ArchiveQuery, ArchiveQueryResult, ArchiveSummary } from './archive-summary.js';
import { DB_FILE, insertRows, insertUnit, rowOf, statements, sheetCrc, summaryOf, type Db, type Row, type Statements } from './archive-db.js';
import { openCheckedDb } from './archive-open.js';
import { queryRecords } from './archive-query.js';
import { dirBytes } from './dir-bytes.js';
import { ArchiveWriter } from './archive-writer.js';
import { IN_SEARCH_ROWS, UnitRows } from './archive-unit-rows.js';
import { CHUNK, GROUP_ROWS, UNITS_ON_THREAD_MAX, type Pending, type Waiting } from './archive-pending.js';

export interface FileArchiveOptions {
  /** Receives warnings (a salvaged database, an imported or damaged old file) at level 'warn' (default: console.warn). */
  logger?: Logger;
  /**
   * Commit rows on a writer thread at the lowest CPU priority (default true; archive-writer.ts).
   * False: on the event loop, as before.
   */
  writerThread?: boolean;
}

/** Without a logger, warnings go to the console as they always did. */
const consoleWarnings: Logger = { log: (level, msg) => (level === 'warn' || level === 'error') && console.warn(msg) };

export class FileArchive implements Archive {
  private readonly bloom = new BloomFilter();
  private c: ArchiveCounts = emptyCounts();
  private dups = 0;
  private total = 0;
  /** Resolves once the appends so far are written (the drain under way, if any). */
  private queue: Promise<void> = Promise.resolve();
  /** Appends not yet being written, in order; `draining` while drain() writes them. */
  private readonly waiting: Waiting[] = [];
  private draining = false;
  /** Records appended but not yet committed (get() must see them). */
  private readonly pending = new Map<string, Pending>();
  /** Keys of the sheets committed (read on open), and sheets appended but not committed yet. */
  private readonly sheetKeys = new Set<string>();
  private readonly pendingSheets = new Map<string, Uint8Array>();
  private closed = false;
  private db!: Db;
  private st!: Statements;
  /** The writer thread; undefined: rows are committed on the event loop (asked for, or the thread failed). */
  private writer: ArchiveWriter | undefined;
  /** Resolves once a failed writer thread has ended. */
  private writerClosed: Promise<void> = Promise.resolve();
  private readonly path: string;
  private units!: UnitRows;
  /** Unit rows handed to the writer thread and not committed yet. */
  private unitsOnThread = 0;

  private constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    this.path = join(dir, DB_FILE);
  }

  static open(dir: string, opts: FileArchiveOptions = {}): FileArchive {
    const a = new FileArchive(dir, resolveLogger(opts, consoleWarnings));
    mkdirSync(dir, { recursive: true });
    a.load();
    if (opts.writerThread ?? true) a.writer = new ArchiveWriter(a.path);
    return a;
  }

  private load(): void {
    this.db = openCheckedDb(this.dir, this.path, this.logger, this.bloom, this.sheetKeys);
    this.st = statements(this.db);
    // Unit rows left by the last run get their search rows now (before the counts are read).
    this.units = new UnitRows(this.db, this.st, (k) => this.sheet(k), this.logger, (id) => this.bloom.add(id));
    this.units.materialize();
    this.recount();
    this.measure();
  }

  private recount(): void {
    const c = emptyCounts();
    let dups = 0;
    for (const r of this.st.counts.all()) {
      c[r.state] = r.n;
      c.total += r.n;
      dups += r.dups;
    }
    this.c = c;
    this.dups = dups;
  }

  private measure(): void {
    this.total = dirBytes(this.dir, (f) => f.startsWith(DB_FILE));
  }

  append(records: ArchiveRecord[], parsed?: ReadonlyMap<ArchiveRecord, TaskFacts>, sheets?: ReadonlyMap<string, Uint8Array>): Promise<void> {
    if (this.closed) return Promise.reject(new Error('archive is closed'));
    // Sheets not yet kept go with the append's first rows (the records after them refer to them).
    const newSheets: [string, Uint8Array][] = [];
    for (const [key, bytes] of sheets ?? []) {
      if (this.sheetKeys.has(key) || this.pendingSheets.has(key)) continue;
      this.pendingSheets.set(key, bytes);
      newSheets.push([key, bytes]);
    }
    const stored: boolean[] = [];
    /** States of ids earlier in this append. */
    const here = new Map<string, ArchivedState>();
    for (const r of records) {
      // Counts by state change at once; duplicate runs when the row is made (it derives them).
      const had = this.pending.get(r.id);
      const prevState = here.get(r.id) ?? (had ? had.rec.state : (this.units.state(r.id) ?? (this.bloom.has(r.id) ? this.st.prev.get(r.id)?.state : undefined)));
      here.set(r.id, r.state);
      if (prevState) this.c[prevState]--;
      else this.c.total++;
      this.c[r.state]++;
      stored.push(had !== undefined || prevState !== undefined);
      this.bloom.add(r.id);
    }
    if (this.writer) return this.appendUnit(records, parsed, newSheets, stored);
    return this.appendRows(records, parsed, newSheets, stored);
  }

  /** Queues the records' search rows to be committed (on the loop: there is no writer thread). */
  private appendRows(records: ArchiveRecord[], parsed: ReadonlyMap<ArchiveRecord, TaskFacts> | undefined, newSheets: [string, Uint8Array][], stored: boolean[]): Promise<void> {
    const batch: Pending[] = records.map((r, k) => {
      const p: Pending = { rec: r, row: undefined, facts: parsed?.get(r), stored: stored[k]! };
      this.pending.set(r.id, p);
      this.units.drop(r.id);
      return p;
    });
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ batch, sheets: newSheets, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        this.queue = this.drain();
      }
    });
  }

  /**
   * Commits the records as one unit row on the writer thread (archive-unit-rows.ts); their search
   * rows are made later. A thread that dies is not used again: the records are committed on the
   * loop instead.
   */
  private async appendUnit(records: ArchiveRecord[], parsed: ReadonlyMap<ArchiveRecord, TaskFacts> | undefined, sheets: [string, Uint8Array][], stored: boolean[]): Promise<void> {
    const w = this.writer!;
    const written = this.units.append(records, parsed, (seq, body) => this.writeUnit(w, seq, body, sheets), (n) => this.makeRows(n));
    this.queue = this.queue.then(() => written.then(() => undefined, () => undefined));
    try {
      await written;
    } catch (e) {
      if (!w.failed) {
        this.settleSheets(sheets, false);
        throw e;
      }
      if (this.writer === w) {
        this.writer = undefined;
        this.logger.log('warn', `archive ${DB_FILE}: the writer thread failed (${(e as Error).message}); rows are committed on the event loop from now on`);
        this.writerClosed = w.close();
      }
      return this.appendRows(records, parsed, sheets, stored);
    }
    this.settleSheets(sheets, true);
    this.measure();
    this.units.whenIdle((n) => this.makeRowsOnThread(n));
  }

  /**
   * Commits a unit row on the writer thread; on the loop instead while UNITS_ON_THREAD_MAX are
   * waiting there (the thread, at the lowest CPU priority, gets no CPU while the machine is busy:
   * appends then waited for it without end, and archival and generation changes with them). A unit
   * committed on the loop overtakes those on the thread, so it also carries every sheet not yet
   * committed (it may refer to one that goes with an older unit; a sheet written twice is kept
   * once): once it resolves, its records are whole on disk on their own.
   */
  private writeUnit(w: ArchiveWriter, seq: number, body: string, sheets: [string, Uint8Array][]): Promise<void> {
    if (this.unitsOnThread >= UNITS_ON_THREAD_MAX) return Promise.resolve().then(() => insertUnit(this.db, this.st, seq, body, this.pendingSheets));
    this.unitsOnThread++;
    return w.writeUnit(seq, body, sheets).finally(() => this.unitsOnThread--);
  }

  /** Makes the search rows of up to `maxUnits` committed unit rows on the writer thread (here without one); resolves with how many. */
  private async makeRowsOnThread(maxUnits: number): Promise<number> {
    return !this.writer || this.closed ? this.makeRows(maxUnits) : this.tally(await this.units.makeOn(this.writer, maxUnits));
  }

  /** Makes the search rows of up to `maxUnits` committed unit rows on the loop; returns how many. */
  private makeRows(maxUnits?: number): number {
    return this.closed ? 0 : this.tally(this.units.materialize(maxUnits));
  }

  /** Counts what making unit rows added; returns how many unit rows were made. */
  private tally(m: { dups: number; units: number }): number {
    this.dups += m.dups;
    if (m.units > 0) this.measure();
    return m.units;
  }

  /**
   * Writes the appends waiting, in order, a group at a time (whole appends, up to GROUP_ROWS rows):
   * each group settles before the next one starts, so the thread is idle when a group starts.
   */
  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const group: Waiting[] = [];
      let rows = 0;
      while (this.waiting.length > 0 && (group.length === 0 || rows + this.waiting[0]!.batch.length <= GROUP_ROWS)) {
        const w = this.waiting.shift()!;
        group.push(w);
        rows += w.batch.length;
      }
      try {
        await this.writeGroup(group);
      } catch (e) {
        // A row that could not be made: the appends of the group not settled yet fail with it.
        for (const w of group) w.reject(e);
      }
    }
    this.draining = false;
  }

  /** Commits a group of appends on the loop (there is no writer thread); then settles each append. */
  private async writeGroup(group: Waiting[]): Promise<void> {
    const outcomes = await this.commitOnLoop(group);
    group.forEach((w, k) => this.settle(w, outcomes[k]!));
    this.measure();
  }

  /** The group's chunks committed on the loop, one transaction each, in order; each append's outcomes, first chunk first. */
  private async commitOnLoop(group: Waiting[]): Promise<PromiseSettledResult<void>[][]> {
    // Unit rows hold older records of these ids: their rows go first, or they would replace these.
    this.makeRows();
    const inGroup = new Map<string, number>();
    const outcomes = group.map((): PromiseSettledResult<void>[] => []);
    for await (const c of this.chunks(group)) {
      const made = this.rowsOf(c.chunk, inGroup);
      try {
        await this.commit(made.rows, c.sheets);
        // Committed before the next chunk counts what it replaces: a row that failed replaced nothing.
        this.dups += made.dups;
        for (const [id, n] of made.duplicates) inGroup.set(id, n);
        outcomes[c.k]!.push({ status: 'fulfilled', value: undefined });
      } catch (e) {
        outcomes[c.k]!.push({ status: 'rejected', reason: e });
      }
    }
    return outcomes;
  }

  /**
   * The chunks of a group's appends, CHUNK records each, with the event loop running between two;
   * an append's new sheets go with its first chunk (an append of sheets alone is one empty chunk).
   */
  private async *chunks(group: Waiting[]): AsyncGenerator<{ k: number; chunk: Pending[]; sheets: [string, Uint8Array][] }> {
    let first = true;
    for (const [k, w] of group.entries()) {
      if (w.batch.length === 0 && w.sheets.length > 0) yield { k, chunk: [], sheets: w.sheets };
      for (let i = 0; i < w.batch.length; i += CHUNK) {
        if (!first) await new Promise<void>((res) => setImmediate(res));
        first = false;
        yield { k, chunk: w.batch.slice(i, i + CHUNK), sheets: i === 0 ? w.sheets : [] };
      }
    }
  }

  /**
   * A chunk's rows, the duplicate runs they add, and each id's duplicate runs as its row has them.
   * What a row replaces (committed earlier, or earlier in this group: `inGroup`) stops counting its
   * duplicate runs; an id this archive surely had not stored when it was appended replaces
   * nothing. The caller counts them once committed (a failed append written again counts once).
   */
  private rowsOf(chunk: Pending[], inGroup: ReadonlyMap<string, number>): { rows: Row[]; dups: number; duplicates: Map<string, number> } {
    const rows = chunk.map((p) => this.rowFor(p));
    let dups = 0;
    const duplicates = new Map<string, number>();
    for (const p of chunk) {
      const before = duplicates.get(p.rec.id) ?? inGroup.get(p.rec.id) ?? (p.stored ? (this.st.prev.get(p.rec.id)?.duplicates ?? 0) : 0);
      dups += p.row!.duplicates - before;
      duplicates.set(p.rec.id, p.row!.duplicates);
    }
    return { rows, dups, duplicates };
  }

  /** Settles an append from its commits' outcomes (its first chunk's first). */
  private settle(w: Waiting, outcomes: readonly PromiseSettledResult<void>[]): void {
    // Sheets go with the append's first rows: committed with them, or not kept (an append of them
    // again, a retry, writes them).
    this.settleSheets(w.sheets, outcomes[0]?.status === 'fulfilled');
    const failed = outcomes.find((x) => x.status === 'rejected');
    if (failed) {
      w.reject(failed.reason);
      return;
    }
    for (const p of w.batch) if (this.pending.get(p.rec.id) === p) this.pending.delete(p.rec.id);
    w.resolve();
  }

  /** Sheets of an append that settled: no longer pending; kept (their keys known) when committed. */
  private settleSheets(sheets: readonly [string, Uint8Array][], kept: boolean): void {
    for (const [key, bytes] of sheets) {
      if (this.pendingSheets.get(key) === bytes) this.pendingSheets.delete(key);
      if (kept) this.sheetKeys.add(key);
    }
  }

  /** Inserts rows (and sheets) in one transaction, on the loop. */
  private async commit(rows: Row[], sheets: [string, Uint8Array][]): Promise<void> {
    // After a thread failed, what it still had queued goes first: its connection is closed
    // before this one writes.
    await this.writerClosed;
    insertRows(this.db, this.st, rows, sheets);
  }

  private rowFor(p: Pending): Row {
    return (p.row ??= rowOf(p.rec, p.facts));
  }

  get(id: string): ArchiveRecord | undefined {
    const p = this.pending.get(id);
    if (p) return p.rec;
    const u = this.units.get(id);
    if (u !== IN_SEARCH_ROWS) return u;
    if (!this.bloom.has(id) || this.closed) return undefined;
    const row = this.st.body.get(id);
    return row ? this.parse(row.body, id) : undefined;
  }

  sheet(key: string): Uint8Array | undefined {
    const p = this.pendingSheets.get(key);
    if (p) return p;
    if (!this.sheetKeys.has(key) || this.closed) return undefined;
    const row = this.st.sheet.get(key);
    if (!row) return undefined;
    if (sheetCrc(row.bytes) !== row.crc) {
      this.logger.log('warn', `archive ${DB_FILE}: the sheet ${key.slice(0, 80)} fails its checksum (damaged since the archive opened; it is salvaged at the next start)`);
      return undefined;
    }
    return new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
  }

  private parse(body: string, id: string): ArchiveRecord | undefined {
    const got = parseArchiveLine(body);
    if (got.bad || got.records.length !== 1) {
      this.logger.log('warn', `archive ${DB_FILE}: the record of ${id.slice(0, 80)} fails its checksum (damaged since the archive opened; it is salvaged at the next start)`);
      return undefined;
    }
    return got.records[0];
  }

  byGeneration(gen: string): ArchiveRecord[] {
    // Unit rows first: one the thread makes meanwhile is then in the search rows read next.
    const unmade = this.units.byGeneration(gen);
    const out = new Map<string, ArchiveRecord>();
    if (!this.closed) {
      for (const row of this.st.byGen.iterate(gen)) {
        const r = this.parse(row.body, gen);
        if (r) out.set(r.id, r);
      }
    }
    for (const r of unmade) out.set(r.id, r);
    for (const { rec } of this.pending.values()) if (rec.gen === gen) out.set(rec.id, rec);
    return [...out.values()];
  }

  has(id: string): boolean {
    if (this.pending.has(id) || this.units.unmade.has(id)) return true;
    return this.bloom.has(id) && !this.closed && this.st.prev.get(id) !== undefined;
  }

  mightHave(id: string): boolean {
    return this.bloom.has(id);
  }

  summary(id: string): ArchiveSummary | undefined {
    const p = this.pending.get(id);
    if (p) return summaryOf(this.rowFor(p));
    const u = this.units.get(id);
    if (u !== IN_SEARCH_ROWS) return u && summaryOf(rowOf(u));
    if (!this.bloom.has(id) || this.closed) return undefined;
    const row = this.st.summary.get(id);
    return row ? summaryOf(row) : undefined;
  }

  counted(id: string): ArchivedCount | undefined {
    const p = this.pending.get(id);
    const u = p ? summaryOf(this.rowFor(p)) : this.units.counted(id);
    if (u !== IN_SEARCH_ROWS) return u;
    return this.bloom.has(id) && !this.closed ? this.st.prev.get(id) : undefined;
  }

  dependents(id: string): string[] {
    if (this.closed) return [];
    const out = new Set(this.st.dependents.all(id).map((r) => r.task));
    for (const t of this.units.dependents(id)) out.add(t);
    for (const p of this.pending.values()) if (this.rowFor(p).deps.includes(JSON.stringify(id))) out.add(p.rec.id);
    return [...out].sort();
  }

  /**
   * Searches committed records (a page, and how many match in all); the search rows of unit rows
   * are made first, in append order (none past a unit still being written).
   */
  query(q: ArchiveQuery): ArchiveQueryResult {
    if (this.closed) return { rows: [], total: 0 };
    this.makeRows();
    return queryRecords(this.db, q);
  }

  counts(): ArchiveCounts {
    return { ...this.c };
  }

  /** Duplicate runs of the archived records: unit rows' from their append, rows committed on the loop once they are. */
  duplicateRuns(): number {
    return this.closed ? this.dups : this.dups + this.units.pendingDuplicateRuns();
  }

  bytes(): number {
    return this.total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.catch(() => {});
    this.units.stop();
    // The rows of what waits in unit rows are made now (a restart makes them too, should this be cut short).
    await this.writer?.close();
    this.writer = undefined;
    await this.writerClosed;
    this.makeRows();
    this.closed = true;
    // The thread's connection closed first (above): the checkpoint below truncates the WAL.
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}
