// Searching a peer's archive database (Node only): the filters of an ArchiveQuery as SQL over the
// indexed summary columns (archive-db.ts), a page of summaries and how many match in all.

import type { ArchiveQuery, ArchiveQueryResult } from './archive-summary.js';
import { SORT_COLUMN, SUMMARY_COLUMNS, summaryOf, type Db, type Row } from './archive-db.js';

/** Searches committed records (a page, and how many match in all). */
export function queryRecords(db: Db, q: ArchiveQuery): ArchiveQueryResult {
  const where: string[] = [];
  const params: (string | number)[] = [];
  /** `column` is any of `values` (no filter when none are given). */
  const anyOf = (column: string, values: readonly string[] | undefined) => {
    if (!values || values.length === 0) return;
    where.push(`${column} IN (${values.map(() => '?').join(',')})`);
    params.push(...values);
  };
  anyOf('state', q.states);
  if (q.type !== undefined) {
    where.push('type = ?');
    params.push(q.type);
  }
  anyOf('peer', q.peers);
  if (q.since !== undefined) {
    where.push('created_at >= ?');
    params.push(q.since);
  }
  if (q.duplicated) where.push('duplicates > 0');
  if (q.text) {
    const like = `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(`(${['id', 'type', 'key', 'peer', 'error'].map((c) => `${c} LIKE ? ESCAPE '\\'`).join(' OR ')})`);
    params.push(like, like, like, like, like);
  }
  const w = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const dir = (q.desc ?? true) ? 'DESC' : 'ASC';
  const col = SORT_COLUMN[q.sort ?? 'created'];
  const limit = Math.max(0, Math.min(q.limit ?? 50, 10_000));
  const offset = Math.max(0, q.offset ?? 0);
  const total = (db.prepare(`SELECT count(*) AS n FROM records ${w}`).get(...params) as { n: number }).n;
  const rows = db
    .prepare<(string | number)[], Omit<Row, 'body'>>(`SELECT ${SUMMARY_COLUMNS} FROM records ${w} ORDER BY ${col} ${dir}, id ${dir} LIMIT ? OFFSET ?`)
    .all(...params, limit, offset);
  return { rows: rows.map(summaryOf), total };
}
