// What the file archive does with a damaged database (Node only): it keeps the damaged file aside
// (archive.db.corrupt-<n>, with its WAL), gathers every record it can still prove (rows SQLite can
// read whose checksums hold, and every checksummed record line found in the raw bytes of the file
// and its WAL, which finds the records of pages SQLite can no longer reach), and writes a new
// database from them. A changed byte costs at most the record it sits in (records longer than a
// page are found only through SQLite); no record is ever made up, since each is proven by its crc32.
// Sheets (the batch bytes records refer to) are kept where SQLite can read them and their crc32
// holds; a record whose sheet is lost keeps its entries, unsigned.

import { closeSync, constants, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isArchiveRecord, type ArchiveRecord } from './archive.js';
import { parseArchiveLine } from './archive-lines.js';
import { crc32 } from './log-codec.js';
import { insertRows, openDb, rowOf, sheetCrc, statements } from './archive-db.js';

export function syncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies `path` to the first free `<path>.corrupt-<n>` (durably); returns its name. */
export function keepCopySync(path: string, suffix = ''): string {
  for (let n = 1; ; n++) {
    const aside = `${path}.corrupt-${n}${suffix}`;
    if (existsSync(aside)) continue;
    copyFileSync(path, aside, constants.COPYFILE_EXCL);
    syncPath(aside, 'r+');
    return aside;
  }
}

const OPEN = Buffer.from('{"id":', 'latin1');
const HEX = /^[0-9a-f]{8}$/;

/** Every checksummed record line in raw bytes (a database page, a WAL frame, anything). */
export function carveRecords(bytes: Buffer): ArchiveRecord[] {
  const out: ArchiveRecord[] = [];
  for (let at = bytes.indexOf(OPEN); at >= 0; at = bytes.indexOf(OPEN, at + 1)) {
    const tab = bytes.indexOf(0x09, at);
    if (tab < 0) break;
    if (tab + 9 > bytes.length) continue;
    const crc = bytes.toString('latin1', tab + 1, tab + 9);
    if (!HEX.test(crc) || crc32(bytes.subarray(at, tab)).toString(16).padStart(8, '0') !== crc) continue;
    try {
      const r = JSON.parse(bytes.toString('utf8', at, tab)) as unknown;
      if (isArchiveRecord(r)) out.push(r);
    } catch {
      /* a crc collision on garbage: not a record */
    }
  }
  return out;
}

/** What `read` gets from a damaged file opened read-only, as far as it gets (an error ends it). */
function readDamaged<T>(path: string, read: (db: ReturnType<typeof openDb>, out: T[]) => void): T[] {
  const out: T[] = [];
  let db;
  try {
    db = openDb(path, { readonly: true });
    read(db, out);
  } catch {
    /* as far as it got */
  } finally {
    try {
      db?.close();
    } catch {
      /* closing a damaged file */
    }
  }
  return out;
}

/** Rows SQLite can still read from a damaged file, in order, as far as it gets. */
function readableRecords(path: string): ArchiveRecord[] {
  return readDamaged<ArchiveRecord>(path, (db, out) => {
    for (const row of db.prepare<[], { body: string }>('SELECT body FROM records').iterate()) {
      const got = parseArchiveLine(row.body);
      if (!got.bad) out.push(...got.records);
    }
  });
}

/** Sheets (batch bytes records refer to) SQLite can still read from a damaged file whose crc32 holds (an archive from before sheets has none). */
function readableSheets(path: string): [string, Uint8Array][] {
  return readDamaged<[string, Uint8Array]>(path, (db, out) => {
    for (const row of db.prepare<[], { key: string; bytes: Uint8Array; crc: string }>('SELECT key, bytes, crc FROM sheets').iterate()) {
      if (typeof row.key === 'string' && row.bytes instanceof Uint8Array && sheetCrc(row.bytes) === row.crc) out.push([row.key, row.bytes]);
    }
  });
}

/** The newer of two copies of a record (the later archival wins, as a later append does). */
function newer(a: ArchiveRecord, b: ArchiveRecord): ArchiveRecord {
  return b.archivedAt > a.archivedAt ? b : a;
}

export interface Salvage {
  /** Where the damaged database was kept. */
  aside: string;
  records: number;
}

/**
 * Replaces the damaged database at `path` by one holding every record that can be proven; the
 * damaged file (and its WAL) is kept aside first. Synchronous: it runs while the archive opens.
 */
export function salvageDatabase(path: string): Salvage {
  const wal = `${path}-wal`;
  const aside = keepCopySync(path);
  if (existsSync(wal)) copyFileSync(wal, `${aside}-wal`);
  const found = new Map<string, ArchiveRecord>();
  const add = (r: ArchiveRecord) => {
    const had = found.get(r.id);
    found.set(r.id, had ? newer(had, r) : r);
  };
  for (const r of carveRecords(readFileSync(path))) add(r);
  if (existsSync(wal)) for (const r of carveRecords(readFileSync(wal))) add(r);
  for (const r of readableRecords(aside)) add(r);
  const tmp = `${path}.rebuild`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const db = openDb(tmp);
  try {
    const st = statements(db);
    // A record whose sheet is lost still loads: written back, its batch entries go unsigned.
    insertRows(db, st, [...found.values()].map((r) => rowOf(r)), readableSheets(aside));
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  // The old WAL must go before the new file takes the name, or SQLite would apply it to the new one.
  for (const f of [wal, `${path}-shm`]) rmSync(f, { force: true });
  renameSync(tmp, path);
  if (process.platform !== 'win32') syncPath(dirname(path), 'r');
  return { aside: basename(aside), records: found.size };
}
