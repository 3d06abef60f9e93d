// The file archive commits each append as one unit row on a writer thread at the lowest CPU
// priority (archive-writer.ts, archive-unit-rows.ts): an append resolves only once it is committed
// (another connection reads it, and so does the archive reopened), the thread really runs at nice 19
// while the rest of the process does not, a thread that dies costs nothing (its rows are committed
// on the event loop, with a warning), and the search rows of unit rows are made once the archive is
// idle, counting a task's duplicate runs once however many unit rows held it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@agentmesh/scheduler';
import type { ArchiveRecord } from '../src/index.js';
import { FileArchive } from '../src/node.js';
import { DB_FILE } from '../src/archive-db.js';
import type { ArchiveWriter } from '../src/archive-writer.js';

const rec = (id: string): ArchiveRecord => ({
  id, state: 'done', finishedAt: 1, result: { id }, peer: 'p', attempts: 1, gen: '1.10.5.p', archivedAt: 5, spec: { id }, facts: { [`${id}/done/1/p`]: { round: 1 } },
});

/** Records committed (search rows, and tasks in unit rows), as a second connection to the database sees them. */
function committed(dir: string): number {
  const { rows, inUnits } = stored(dir);
  return rows + inUnits;
}

/** Search rows, unit rows and the tasks in them, as a second connection to the database sees them. */
function stored(dir: string): { rows: number; units: number; inUnits: number } {
  const db = new Database(join(dir, DB_FILE), { readonly: true });
  try {
    const rows = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    const bodies = db.prepare('SELECT body FROM units').all() as { body: string }[];
    // A unit row's body: a header line, then a line per task.
    return { rows, units: bodies.length, inUnits: bodies.reduce((n, b) => n + b.body.split('\n').length - 1, 0) };
  } finally {
    db.close();
  }
}

/** Nice values of this process's threads (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

const writerOf = (a: FileArchive) => (a as unknown as { writer: ArchiveWriter | undefined }).writer;

/** A record of a task done by two runs of round 1 (one duplicate run), both with `result`. */
const twoRuns = (id: string, result: number): ArchiveRecord => ({
  ...rec(id),
  spec: { id, type: 'echo', payload: {}, createdAt: 1000, createdBy: 'pa' },
  facts: { [`${id}/claim/1/pa`]: { peer: 'pa', round: 1, score: 0.1, at: 1 }, [`${id}/done/1/pa`]: { peer: 'pa', round: 1, result, at: 2, ms: 1 }, [`${id}/claim/1/pb`]: { peer: 'pb', round: 1, score: 0.2, at: 1 }, [`${id}/done/1/pb`]: { peer: 'pb', round: 1, result, at: 3, ms: 1 } },
});

describe('archive writer thread', () => {
  it('an append resolves once its rows are committed; they are there after a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    expect(writerOf(a)).toBeDefined();
    await a.append(Array.from({ length: 150 }, (_, i) => rec(`w-${i}`)), undefined, new Map([['segs/k', new Uint8Array([1, 2, 3])]]));
    expect(committed(dir)).toBe(150);
    expect(a.counts().total).toBe(150);
    expect(a.summary('w-7')?.state).toBe('done');
    await a.close();
    const b = FileArchive.open(dir, { logger: silentLogger });
    expect(b.get('w-149')?.id).toBe('w-149');
    expect(b.sheet('segs/k')).toEqual(new Uint8Array([1, 2, 3]));
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')('runs at nice 19, and the rest of the process does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const before = threadNices();
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append([rec('n-1')]);
    const during = threadNices();
    expect(before.filter((n) => n === 19)).toHaveLength(0);
    expect(during.filter((n) => n === 19)).toHaveLength(1);
    expect(during.filter((n) => n !== 19).length).toBeGreaterThan(0);
    await a.close();
    expect(threadNices().filter((n) => n === 19)).toHaveLength(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the thread dies, rows are committed on the event loop (and said so)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const warnings: string[] = [];
    const a = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
    await a.append([rec('d-1')]);
    await (writerOf(a) as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await a.append([rec('d-2'), rec('d-3')]);
    expect(committed(dir)).toBe(3);
    expect(warnings.join('\n')).toMatch(/the writer thread failed .*committed on the event loop from now on/);
    expect(writerOf(a)).toBeUndefined();
    await a.append([rec('d-4')]);
    expect(committed(dir)).toBe(4);
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an append is one unit row; its search rows are made once the archive is idle, and then searches see them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append(Array.from({ length: 150 }, (_, i) => rec(`u-${i}`)));
    await a.append([rec('u-150')]);
    expect(stored(dir)).toEqual({ rows: 0, units: 2, inUnits: 151 });
    expect(a.get('u-7')?.id).toBe('u-7');
    // No append for a second: the rows are made.
    await new Promise((r) => setTimeout(r, 1500));
    expect(stored(dir)).toEqual({ rows: 151, units: 0, inUnits: 0 });
    expect(a.get('u-7')?.id).toBe('u-7');
    expect(a.query!({ limit: 1 }).total).toBe(151);
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a task in two unit rows counts its duplicate runs once, and its later record wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const appends = [a.append([rec('g-x')]), a.append([twoRuns('g-0', 1)]), a.append([rec('g-1'), rec('g-2')]), a.append([twoRuns('g-0', 2)]), a.append([rec('g-3')])];
    await Promise.all(appends);
    expect(stored(dir).units).toBe(5);
    expect(a.get('g-0')?.facts['g-0/done/1/pa']).toMatchObject({ result: 2 });
    expect(a.counts().total).toBe(5);
    // The rows are made before a search.
    expect(a.query!({ limit: 10 }).total).toBe(5);
    expect(a.duplicateRuns!()).toBe(1);
    expect(a.get('g-0')?.facts['g-0/done/1/pa']).toMatchObject({ result: 2 });
    await a.close();
    const b = FileArchive.open(dir, { logger: silentLogger });
    expect(b.duplicateRuns!()).toBe(1);
    expect(b.counts().total).toBe(5);
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on the loop, a row of a group that failed replaces nothing: a later row of its id in the group counts its duplicate runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger, writerThread: false });
    const inner = a as unknown as { commit(rows: { id: string }[], ...rest: unknown[]): Promise<void> };
    const commit = inner.commit.bind(a);
    let failed = 0;
    // x's first commit fails, as a full disk would.
    inner.commit = (rows, ...rest) => (rows.some((r) => r.id === 'x') && !failed++ ? Promise.reject(new Error('disk full')) : commit(rows, ...rest));
    // The first append (two chunks) is being written while the next two wait: they go together,
    // x's first row fails, its second is committed.
    const first = a.append(Array.from({ length: 100 }, (_, i) => rec(`f-${i}`)));
    const lost = a.append([twoRuns('x', 1)]);
    const kept = a.append([twoRuns('x', 1)]);
    await first;
    await expect(lost).rejects.toThrow('disk full');
    await kept;
    expect(a.duplicateRuns!()).toBe(1);
    await a.close();
    const b = FileArchive.open(dir, { logger: silentLogger });
    expect(b.duplicateRuns!()).toBe(1);
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an append that fails commits nothing it says it kept: written again, its sheets and duplicate runs count once', async () => {
    const record = (i: number): ArchiveRecord => {
      const id = `r-${i}`;
      // Two runs of one round: one duplicate run each.
      const facts = { [`${id}/claim/1/pa`]: { peer: 'pa', round: 1, score: 0.1, at: 1 }, [`${id}/done/1/pa`]: { peer: 'pa', round: 1, result: i, at: 2, ms: 1 }, [`${id}/claim/1/pb`]: { peer: 'pb', round: 1, score: 0.2, at: 1 }, [`${id}/done/1/pb`]: { peer: 'pb', round: 1, result: i, at: 3, ms: 1 } };
      return { id, spec: { id, type: 'echo', payload: { i }, createdAt: 1000 + i, createdBy: 'pa' }, facts, state: 'done', finishedAt: 2000 + i, result: i, peer: 'pa', attempts: 1, gen: 'g', archivedAt: 5 };
    };
    for (const writerThread of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
      const a = FileArchive.open(dir, { logger: silentLogger, writerThread });
      const records = Array.from({ length: 100 }, (_, i) => record(i));
      const sheets = new Map([['segs/k1', new Uint8Array([7, 8, 9])]]);
      // The first commit (the chunk that carries the sheet, on the loop; the unit row, on the
      // thread) fails once, as a full disk would.
      const inner = (writerThread ? writerOf(a) : a) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      const name = writerThread ? 'writeUnit' : 'commit';
      const commit = inner[name]!.bind(inner);
      let fail = true;
      inner[name] = (...args: unknown[]) => {
        if (fail) {
          fail = false;
          return Promise.reject(new Error('disk full'));
        }
        return commit(...args);
      };
      await expect(a.append(records, undefined, sheets)).rejects.toThrow('disk full');
      // On the loop the rows go 64 per transaction, and the second chunk (rows 64..99) committed;
      // on the thread the append is one transaction, and nothing did.
      expect(a.duplicateRuns!()).toBe(writerThread ? 0 : 36);
      await a.append(records, undefined, sheets);
      // A unit row's duplicate runs count from its append, and once each when its search rows are made (a search makes them).
      expect(a.duplicateRuns!()).toBe(100);
      a.query!({ limit: 1 });
      expect(a.duplicateRuns!()).toBe(100);
      expect(committed(dir)).toBe(100);
      await a.close();
      const b = FileArchive.open(dir, { logger: silentLogger });
      expect(b.sheet('segs/k1')).toEqual(new Uint8Array([7, 8, 9]));
      expect(b.duplicateRuns!()).toBe(100);
      expect(b.counts().total).toBe(100);
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
