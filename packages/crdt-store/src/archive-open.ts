// Opening a peer's archive database (Node only): every row's checksums and SQLite's own structure
// are checked, a damaged database is salvaged with the damaged file kept aside
// (archive-salvage.ts), and an archive directory of the older JSON-lines format is imported once
// (archive-legacy.ts). What it finds fills the archive's Bloom filter and its set of kept sheets.

import type { Logger } from '@agentmesh/scheduler';
import type { BloomFilter } from './archive.js';
import { DB_FILE, ROW_COLUMNS, openDb, rowProblem, sheetCrc, type Db } from './archive-db.js';
import { hasLegacyFiles, importLegacy } from './archive-legacy.js';
import { salvageDatabase } from './archive-salvage.js';

/**
 * Opens the database at `path` (in `dir`), checked, salvaged when damaged (with a warning), and
 * with any legacy files imported; adds every archived id to `bloom` and every intact sheet's key
 * to `sheetKeys`. Throws when even the salvaged file is damaged.
 */
export function openCheckedDb(dir: string, path: string, logger: Logger, bloom: BloomFilter, sheetKeys: Set<string>): Db {
  let problem: string | undefined;
  let db: Db | undefined;
  try {
    db = openDb(path);
    problem = check(db, bloom, sheetKeys);
  } catch (e) {
    problem = (e as Error).message;
  }
  if (problem !== undefined) {
    try {
      db?.close();
    } catch {
      /* a damaged file */
    }
    const s = salvageDatabase(path);
    logger.log('warn', `archive ${DB_FILE}: ${problem}; kept the damaged file as ${s.aside}, ${s.records} records remain`);
    db = openDb(path);
    const again = check(db, bloom, sheetKeys);
    if (again !== undefined) throw new Error(`archive ${path} is still damaged after salvage: ${again}`);
  }
  if (hasLegacyFiles(dir)) {
    importLegacy(dir, db!, logger);
    for (const { id } of db!.prepare<[], { id: string }>('SELECT id FROM records').iterate()) bloom.add(id);
  }
  return db!;
}

/** Checks every row's checksums and SQLite's own structure; fills the Bloom filter and the sheet keys. Returns what is wrong. */
function check(db: Db, bloom: BloomFilter, sheetKeys: Set<string>): string | undefined {
  const ok = db.pragma('integrity_check(1)', { simple: true });
  if (ok !== 'ok') return `integrity check: ${String(ok)}`;
  let bad: string | undefined;
  sheetKeys.clear();
  // Raw rows: far cheaper than an object per row on a large archive.
  for (const row of db.prepare<[], unknown[]>(`SELECT ${ROW_COLUMNS} FROM records`).raw().iterate()) {
    const p = rowProblem(row);
    if (p !== undefined) {
      bad ??= `the row of ${String(row[0]).slice(0, 80)}: ${p}`;
      continue;
    }
    bloom.add(row[0] as string);
  }
  for (const row of db.prepare<[], { key: string; bytes: Uint8Array; crc: string }>('SELECT key, bytes, crc FROM sheets').iterate()) {
    if (sheetCrc(row.bytes) !== row.crc) {
      bad ??= `the sheet ${row.key.slice(0, 80)}: its bytes fail their checksum`;
      continue;
    }
    sheetKeys.add(row.key);
  }
  return bad;
}
