// The file archive commits its rows on a writer thread at the lowest CPU priority (archive-writer.ts):
// an append resolves only once its rows are committed (another connection reads them, and so does
// the archive reopened), the thread really runs at nice 19 while the rest of the process does not,
// a thread that dies costs nothing (its rows are committed on the event loop, with a warning), and a
// long backlog is committed on the loop instead of waiting on a starved thread; appends that wait
// while the thread commits go together in one transaction.
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

/** Rows committed, as a second connection to the database sees them. */
function committed(dir: string): number {
  const db = new Database(join(dir, DB_FILE), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
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

/** The rows of each write the archive gives its writer thread, as it gives them. */
function rowsSentToThread(a: FileArchive): number[] {
  const w = writerOf(a)!;
  const sent: number[] = [];
  const write = w.write.bind(w);
  w.write = (rows, sheets) => {
    sent.push(rows.length);
    return write(rows, sheets);
  };
  return sent;
}

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

  it('a backlog past 1,024 records is committed on the event loop (the thread may be starved)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const sent = rowsSentToThread(a);
    // One append of 3,000 records: more than the backlog limit (1,024) is waiting when its run starts.
    const big = a.append(Array.from({ length: 3000 }, (_, i) => rec(`b-${i}`)));
    const small = a.append([rec('s-1')]);
    await Promise.all([big, small]);
    expect(committed(dir)).toBe(3001);
    // The big one went on the loop; the small one after it, with no backlog left, to the thread.
    expect(sent).toEqual([1]);
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });
  it('appends that wait while the thread commits go together in one transaction; a task in two of them counts its duplicate runs once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const sent = rowsSentToThread(a);
    // The first append goes alone (nothing else waits when it starts); the next four wait for it
    // and go together, g-0 twice among them (a later record of an id wins).
    const appends = [a.append([rec('g-x')]), a.append([twoRuns('g-0', 1)]), a.append([rec('g-1'), rec('g-2')]), a.append([twoRuns('g-0', 2)]), a.append([rec('g-3')])];
    await Promise.all(appends);
    expect(sent).toEqual([1, 5]);
    expect(committed(dir)).toBe(5);
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
      // The first commit (the chunk that carries the sheet) fails once, as a full disk would.
      const inner = a as unknown as { commit(...args: unknown[]): Promise<void> };
      const commit = inner.commit.bind(a);
      let fail = true;
      inner.commit = (...args: unknown[]) => {
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
