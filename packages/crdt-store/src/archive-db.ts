// The SQLite side of the file archive (Node only): opening a database file with the settings that
// make an acknowledged append survive kill -9 and power loss (WAL, synchronous=FULL), the table
// and its indexes (state, type, peer, submit time, finish time, generation; dependencies in a table
// of their own), and the row format. Each row holds the whole record as a checksummed line
// (archive-lines.ts) plus the summary columns queries use, and a checksum over those columns, so a
// changed byte anywhere in a row is noticed when the archive opens. The `sheets` table holds the
// bytes of the batches records refer to (a record's batch entries keep a reference, not a carried
// signature and Merkle path: BatchSigs.ref), once per batch, each with its crc32.

import Database from 'better-sqlite3';
import { crc32 } from 'node:zlib';
import type { TaskFacts } from '@agentmesh/scheduler';
import type { ArchiveRecord, ArchivedState } from './archive.js';
import { summarizeRecord, type ArchiveSort, type ArchiveSummary } from './archive-summary.js';

export type Db = Database.Database;

export const DB_FILE = 'archive.db';

/** Page size of a new archive database. */
export const PAGE_SIZE = 8192;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY NOT NULL,
  state TEXT NOT NULL,
  type TEXT NOT NULL,
  peer TEXT,
  created_at REAL NOT NULL,
  finished_at REAL NOT NULL,
  archived_at REAL NOT NULL,
  gen TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  key TEXT,
  error TEXT,
  deps TEXT NOT NULL,
  body TEXT NOT NULL,
  rowcrc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_state ON records(state, created_at);
CREATE INDEX IF NOT EXISTS records_type ON records(type, created_at);
CREATE INDEX IF NOT EXISTS records_peer ON records(peer, created_at);
CREATE INDEX IF NOT EXISTS records_created ON records(created_at);
CREATE INDEX IF NOT EXISTS records_finished ON records(finished_at);
CREATE INDEX IF NOT EXISTS records_gen ON records(gen);
CREATE TABLE IF NOT EXISTS deps (dep TEXT NOT NULL, task TEXT NOT NULL, PRIMARY KEY (dep, task)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sheets (key TEXT PRIMARY KEY NOT NULL, bytes BLOB NOT NULL, crc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
`;

/** Opens (creating if needed) an archive database; throws when the file is not a usable database. */
export function openDb(path: string, opts: { readonly?: boolean } = {}): Db {
  const db = new Database(path, opts.readonly ? { readonly: true, fileMustExist: true } : {});
  try {
    if (!opts.readonly) {
      // 8 KiB pages for a new file (an existing one keeps its size): a row (about 2.5 KB, most of
      // it the record with its carried signatures) left 40% of a 4 KiB page empty; 8 KiB pages
      // took a third less disk and a quarter less CPU per insert (measured on bench:bounded rows).
      db.pragma(`page_size = ${PAGE_SIZE}`);
      db.pragma('journal_mode = WAL');
      // FULL: every commit is fsynced before append() resolves (the old archive's fdatasync).
      db.pragma('synchronous = FULL');
      // Replaced rows are zeroed on disk, so salvage never finds an outdated copy of a record.
      db.pragma('secure_delete = ON');
      db.exec(SCHEMA);
    }
    db.pragma('cell_size_check = ON');
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** A row as stored: the summary columns, the record line and the columns' checksum. */
export interface Row {
  id: string;
  state: ArchivedState;
  type: string;
  peer: string | null;
  created_at: number;
  finished_at: number;
  archived_at: number;
  gen: string;
  attempts: number;
  duplicates: number;
  key: string | null;
  error: string | null;
  deps: string;
  body: string;
  rowcrc: string;
}

// zlib's crc32 is the same CRC-32 as log-codec's (archive-lines.ts), in native code.
const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** The columns of a row in table order (a raw row read with `SELECT ${ROW_COLUMNS}`). */
export const ROW_COLUMNS = 'id, state, type, peer, created_at, finished_at, archived_at, gen, attempts, duplicates, key, error, deps, body, rowcrc';

function columnsCrc(cols: readonly unknown[], bodyCrc: string): string {
  return hex8(crc32(JSON.stringify([...cols, bodyCrc])));
}

/** The record line of archive-lines.ts (JSON with the id first, a tab, its crc32), without a newline. */
export function recordLine(r: ArchiveRecord): string {
  const json = idFirst(r) ? JSON.stringify(r) : JSON.stringify(withIdFirst(r));
  return `${json}\t${hex8(crc32(json))}`;
}

/** Records are built with the id first (then no copy is needed to write it first). */
function idFirst(r: ArchiveRecord): boolean {
  for (const k in r) return k === 'id';
  return false;
}

function withIdFirst(r: ArchiveRecord): ArchiveRecord {
  const { id, ...rest } = r;
  return { id, ...rest };
}

/** The row of a record; `facts`: its parsed facts when the caller has them (see summarizeRecord). */
export function rowOf(rec: ArchiveRecord, facts?: TaskFacts): Row {
  const s = summarizeRecord(rec, facts);
  const body = recordLine(rec);
  const createdAt = s.createdAt ?? s.finishedAt;
  const deps = JSON.stringify(s.dependsOn);
  // The columns in table order (what columnsCrc covers), built once as an array and once as the row.
  const cols = [s.id, s.state, s.type, s.peer, createdAt, s.finishedAt, s.archivedAt, s.gen, s.attempts, s.duplicates, s.key, s.error, deps];
  return {
    id: s.id,
    state: s.state,
    type: s.type,
    peer: s.peer,
    created_at: createdAt,
    finished_at: s.finishedAt,
    archived_at: s.archivedAt,
    gen: s.gen,
    attempts: s.attempts,
    duplicates: s.duplicates,
    key: s.key,
    error: s.error,
    deps,
    body,
    rowcrc: columnsCrc(cols, body.slice(-8)),
  };
}

/** Why a stored row (raw, in ROW_COLUMNS order) cannot be trusted; undefined when it is intact. */
export function rowProblem(raw: readonly unknown[]): string | undefined {
  const body = raw[13];
  if (typeof body !== 'string') return 'its record is missing';
  const tab = body.lastIndexOf('\t');
  if (tab < 0 || body.length - tab !== 9) return 'its record has no checksum';
  const crc = body.slice(tab + 1);
  if (hex8(crc32(body.slice(0, tab))) !== crc) return 'its record fails its checksum';
  if (columnsCrc(raw.slice(0, 13), crc) !== raw[14]) return 'its columns fail their checksum';
  return undefined;
}

export function summaryOf(r: Omit<Row, 'body'>): ArchiveSummary {
  let dependsOn: string[] = [];
  try {
    const d = JSON.parse(r.deps) as unknown;
    if (Array.isArray(d)) dependsOn = d.filter((x): x is string => typeof x === 'string');
  } catch {
    /* checked by rowcrc on open */
  }
  return {
    id: r.id,
    state: r.state,
    type: r.type,
    peer: r.peer,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    archivedAt: r.archived_at,
    attempts: r.attempts,
    duplicates: r.duplicates,
    key: r.key,
    error: r.error,
    dependsOn,
    gen: r.gen,
  };
}

export const SUMMARY_COLUMNS = 'id, state, type, peer, created_at, finished_at, archived_at, gen, attempts, duplicates, key, error, deps, rowcrc';

export const SORT_COLUMN: Record<ArchiveSort, string> = {
  created: 'created_at',
  finished: 'finished_at',
  state: 'state',
  type: 'type',
  peer: 'peer',
  attempts: 'attempts',
  id: 'id',
};

type Stmt<P extends unknown[], R> = Database.Statement<P, R>;

/** Prepared statements of an open archive database. */
export interface Statements {
  insert: Stmt<[string, string, string, string | null, number, number, number, string, number, number, string | null, string | null, string, string, string], unknown>;
  insertDep: Stmt<[string, string], unknown>;
  body: Stmt<[string], { body: string }>;
  prev: Stmt<[string], { state: ArchivedState; duplicates: number }>;
  summary: Stmt<[string], Omit<Row, 'body'>>;
  byGen: Stmt<[string], { body: string }>;
  dependents: Stmt<[string], { task: string }>;
  counts: Stmt<[], { state: ArchivedState; n: number; dups: number }>;
  insertSheet: Stmt<[string, Uint8Array, string], unknown>;
  sheet: Stmt<[string], { bytes: Uint8Array; crc: string }>;
  insertUnit: Stmt<[number, string], unknown>;
  /** The highest seq of the unit rows (null: none). */
  maxUnitSeq: Stmt<[], { seq: number | null }>;
  unitBody: Stmt<[number], { body: string }>;
  /** The seqs of the oldest unit rows, up to a number. */
  unitSeqs: Stmt<[number], { seq: number }>;
  deleteUnit: Stmt<[number], unknown>;
}

export function statements(db: Db): Statements {
  return {
    insert: db.prepare(`INSERT OR REPLACE INTO records (${ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertDep: db.prepare<[string, string], unknown>('INSERT OR IGNORE INTO deps (dep, task) VALUES (?, ?)'),
    body: db.prepare<[string], { body: string }>('SELECT body FROM records WHERE id = ?'),
    prev: db.prepare<[string], { state: ArchivedState; duplicates: number }>('SELECT state, duplicates FROM records WHERE id = ?'),
    summary: db.prepare<[string], Omit<Row, 'body'>>(`SELECT ${SUMMARY_COLUMNS} FROM records WHERE id = ?`),
    byGen: db.prepare<[string], { body: string }>('SELECT body FROM records WHERE gen = ?'),
    dependents: db.prepare<[string], { task: string }>('SELECT task FROM deps WHERE dep = ? ORDER BY task'),
    counts: db.prepare<[], { state: ArchivedState; n: number; dups: number }>('SELECT state, count(*) AS n, total(duplicates) AS dups FROM records GROUP BY state'),
    insertSheet: db.prepare<[string, Uint8Array, string], unknown>('INSERT OR IGNORE INTO sheets (key, bytes, crc) VALUES (?, ?, ?)'),
    sheet: db.prepare<[string], { bytes: Uint8Array; crc: string }>('SELECT bytes, crc FROM sheets WHERE key = ?'),
    insertUnit: db.prepare<[number, string], unknown>('INSERT INTO units (seq, body) VALUES (?, ?)'),
    maxUnitSeq: db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM units'),
    unitBody: db.prepare<[number], { body: string }>('SELECT body FROM units WHERE seq = ?'),
    unitSeqs: db.prepare<[number], { seq: number }>('SELECT seq FROM units ORDER BY seq LIMIT ?'),
    deleteUnit: db.prepare<[number], unknown>('DELETE FROM units WHERE seq = ?'),
  };
}

/** The checksum a sheet row keeps of its bytes. */
export function sheetCrc(bytes: Uint8Array): string {
  return hex8(crc32(bytes));
}

/**
 * Writes a unit row (record lines, archive-unit-rows.ts) as `seq` (given at append time: seqs are
 * in append order whichever connection commits first) and the sheets its records refer to, in one
 * transaction.
 */
export function insertUnit(db: Db, st: Statements, seq: number, body: string, sheets: Iterable<[string, Uint8Array]> = []): void {
  db.transaction(() => {
    for (const [key, bytes] of sheets) st.insertSheet.run(key, bytes, sheetCrc(bytes));
    st.insertUnit.run(seq, body);
  })();
}

/** Writes rows (and the sheets they refer to, by key) in one transaction (durable when it returns). */
export function insertRows(db: Db, st: Statements, rows: Row[], sheets: Iterable<[string, Uint8Array]> = []): void {
  db.transaction(() => {
    for (const [key, bytes] of sheets) st.insertSheet.run(key, bytes, sheetCrc(bytes));
    for (const r of rows) {
      // Positional parameters: better-sqlite3 binds them faster than a row object's names.
      st.insert.run(r.id, r.state, r.type, r.peer, r.created_at, r.finished_at, r.archived_at, r.gen, r.attempts, r.duplicates, r.key, r.error, r.deps, r.body, r.rowcrc);
      if (r.deps !== '[]') for (const dep of JSON.parse(r.deps) as string[]) st.insertDep.run(dep, r.id);
    }
  })();
}
