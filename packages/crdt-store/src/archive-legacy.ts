// The archive format before the database (Node only): JSON lines in 256 bucket files b-XX.jsonl,
// a gen-*.ids file per generation and counts.json. An archive directory that still has them is
// imported into the database when it opens, once: every readable record goes in (a later line of
// an id wins, as it did), a damaged bucket is kept aside as b-XX.jsonl.corrupt-<n> and named in a
// warning, and the old files are removed only after the records are committed.

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@agentmesh/scheduler';
import type { ArchiveRecord } from './archive.js';
import { parseArchiveText } from './archive-lines.js';
import { insertRows, rowOf, statements, type Db } from './archive-db.js';
import { keepCopySync } from './archive-salvage.js';

const BUCKET = /^b-[0-9a-f]{2}\.jsonl$/;
const OLD_FILES = /^(gen-.*\.ids|counts\.json|counts\.json\.tmp)$/;

/** True when `dir` holds files of the JSON-lines archive. */
export function hasLegacyFiles(dir: string): boolean {
  return readdirSync(dir).some((f) => BUCKET.test(f));
}

/** Imports the JSON-lines buckets of `dir` into the database; returns the records imported. */
export function importLegacy(dir: string, db: Db, logger: Logger): number {
  const names = readdirSync(dir).filter((f) => BUCKET.test(f)).sort();
  const latest = new Map<string, ArchiveRecord>();
  for (const name of names) {
    const path = join(dir, name);
    const parsed = parseArchiveText(readFileSync(path));
    for (const r of parsed.records) latest.set(r.id, r);
    if (parsed.badLines.length > 0 || parsed.unterminated) {
      const aside = keepCopySync(path);
      const lost = parsed.badLines.length > 0 ? `skipped unreadable line${parsed.badLines.length === 1 ? '' : 's'} ${parsed.badLines.join(', ')}` : 'repaired the newline of its last line';
      logger.log('warn', `archive ${name}: ${lost}${parsed.tornBytes > 0 ? ` and a torn last line (${parsed.tornBytes} bytes)` : ''}; kept the damaged file as ${aside}, ${parsed.records.length} records remain`);
    } else if (parsed.tornBytes > 0) {
      logger.log('warn', `archive ${name}: cut a torn last line (${parsed.tornBytes} bytes)`);
    }
  }
  insertRows(db, statements(db), [...latest.values()].map((r) => rowOf(r)));
  for (const f of readdirSync(dir)) if (BUCKET.test(f) || OLD_FILES.test(f)) rmSync(join(dir, f), { force: true });
  logger.log('info', `archive: imported ${latest.size} records from the JSON-lines files of ${dir} into ${join(dir, 'archive.db')}`);
  return latest.size;
}
