// Slim archived records (archive-refs.ts): a record whose batched entries keep only their
// reference is made whole again from its sheets, exactly as the board made it, and is much smaller;
// a missing or wrong sheet makes no record rather than a wrong one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@agentmesh/scheduler';
import { FileArchive } from '../src/node.js';
import Database from 'better-sqlite3';
import { DB_FILE } from '../src/archive-db.js';
import * as Y from 'yjs';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { TaskSpec } from '@agentmesh/scheduler';
import { EntryTrust, TaskBoard, batchTaskId, type ArchiveRecord, type EntrySigner, type SignatureScheme, type TaskBatch, type TaskRecord } from '../src/index.js';
import { fullRecord, slimRecord } from './slim-records.js';

const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const scheme: SignatureScheme = {
  sha256: (d) => createHash('sha256').update(d).digest(),
  verify: (pk, m, s) => verify(null, m, createPublicKey({ key: Buffer.concat([SPKI, pk]), format: 'der', type: 'spki' }), s),
};
function keyPair(author: string): EntrySigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' });
  return { author, publicKey: new Uint8Array(raw.subarray(raw.length - 32)), sign: (m) => new Uint8Array(sign(null, m, privateKey)) };
}
const keys = new Map<string, EntrySigner>(['p1', 'p2'].map((p) => [p, keyPair(p)]));
const trustOf = (author: string) => new EntryTrust({ scheme, signer: keys.get(author)!, keyOf: (a) => keys.get(a)?.publicKey });

const spec = (id: string, i: number): TaskSpec => ({
  id, type: 'echo', payload: { n: i, text: 'x'.repeat(i) }, priority: i % 3, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 1000, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted',
});

/** Counts the archive's sheet reads from now on, by sheet key. */
function countSheetReads(a: FileArchive): Map<string, number> {
  const reads = new Map<string, number>();
  const sheet = a.sheet.bind(a);
  a.sheet = (k) => (reads.set(k, (reads.get(k) ?? 0) + 1), sheet(k));
  return reads;
}

/** The records a replica archives when p1 deletes a finished batch, with their sheets. */
function archived(): { records: ArchiveRecord[]; sheets: Map<string, Uint8Array> } {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u, 'remote'));
  const ba = new TaskBoard(a, { now: () => 100, trust: trustOf('p1') });
  const bb = new TaskBoard(b, { now: () => 200, trust: trustOf('p2') });
  const batch: TaskBatch = { createdBy: 'p1', createdAt: 1000, tasks: Array.from({ length: 5 }, (_, i) => ({ spec: spec(batchTaskId('s1', i), i), ...(i % 2 ? { assignee: 'p1' } : {}) })) };
  ba.putTaskBatch('s1', batch);
  const ids = batch.tasks.map((t) => t.spec.id);
  ba.putActivity('a1', { peer: 'p1', records: ids.map((task) => ({ kind: 'claim' as const, task, round: 1, at: 10, score: 0.5 })) });
  ba.putActivity('a2', { peer: 'p1', records: ids.map((task, i) => ({ kind: 'done' as const, task, round: 1, at: 11, ms: 2, result: { i, big: 'y'.repeat(50) } })) });
  const removed: TaskRecord[] = [];
  const sheets = new Map<string, Uint8Array>();
  bb.onChange((c) => {
    removed.push(...c.removed);
    for (const [k, v] of c.sheets ?? []) sheets.set(k, v);
  });
  ba.deleteTasks(new Set(ids));
  const records = removed.map((r, i): ArchiveRecord => ({ ...r, state: 'done', finishedAt: 11, result: { i }, peer: 'p1', attempts: 1, gen: 'g', archivedAt: 300 }));
  return { records, sheets };
}

/** Task `id` done by `runs` peers in round 1 (runs - 1 duplicate runs), each with `result`. */
function doneBy(id: string, runs: number, result: number): ArchiveRecord {
  const facts: Record<string, unknown> = {};
  for (const p of ['pa', 'pb', 'pc'].slice(0, runs)) {
    facts[`${id}/claim/1/${p}`] = { peer: p, round: 1, score: 0.1, at: 1 };
    facts[`${id}/done/1/${p}`] = { peer: p, round: 1, result, at: 2, ms: 1 };
  }
  return { id, spec: { id, type: 'echo', payload: {}, createdAt: 1000, createdBy: 'pa' }, facts, state: 'done', finishedAt: 2, result, peer: 'pa', attempts: 1, gen: 'g', archivedAt: 5 };
}

describe('slim archived records', () => {
  it('are made whole from their sheets exactly as the board made them, at a fraction of the bytes', () => {
    const { records, sheets } = archived();
    expect(records).toHaveLength(5);
    const decoded = new Map();
    for (const rec of records) {
      const slim = slimRecord(rec);
      expect(slim.spec).toEqual({ sig: { b: 'segs', k: 's1', i: Number(rec.id.split('.')[1]) } });
      expect(Object.values(slim.facts).every((f) => Object.keys(f as object).join() === 'sig')).toBe(true);
      expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(rec).length / 2);
      expect(fullRecord(slim, (k) => sheets.get(k), decoded)).toEqual(rec);
      // Through JSON, as the archive stores it.
      expect(fullRecord(JSON.parse(JSON.stringify(slim)) as ArchiveRecord, (k) => sheets.get(k))).toEqual(rec);
    }
  });

  it('a record without references stays as it is; a missing or wrong sheet gives no record', () => {
    const { records, sheets } = archived();
    const plain: ArchiveRecord = { id: 'x', spec: { id: 'x', type: 'echo' }, facts: { 'x/done/1/p1': { round: 1 } }, state: 'done', finishedAt: 1, result: null, peer: null, attempts: 1, gen: 'g', archivedAt: 1 };
    expect(slimRecord(plain)).toBe(plain);
    expect(fullRecord(plain, () => undefined)).toBe(plain);
    const slim = slimRecord(records[0]!);
    expect(fullRecord(slim, (k) => (k === 'acts/a2' ? undefined : sheets.get(k)))).toBeUndefined();
    expect(fullRecord(slim, (k) => (k === 'segs/s1' ? sheets.get('acts/a1') : sheets.get(k)))).toBeUndefined();
    // Facts swapped between batches: a reference to a claim where the record names a done.
    expect(fullRecord(slim, (k) => (k === 'acts/a2' ? sheets.get('acts/a1') : sheets.get(k)))).toBeUndefined();
  });

  it('a file archive keeps an append as a unit row, and gives its records back whole before and after their search rows are made', async () => {
    const { records, sheets } = archived();
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const appended = a.append(records, undefined, sheets);
    // While the unit row is being committed, and after.
    expect(a.get(records[1]!.id)).toEqual(records[1]);
    await appended;
    for (const r of records) expect(a.get(r.id)).toEqual(r);
    expect(a.summary!(records[2]!.id)).toMatchObject({ state: 'done', type: 'echo', createdAt: 1000 });
    expect(a.counts()).toMatchObject({ done: 5, total: 5 });
    // A search makes the rows first.
    expect(a.query!({ limit: 10 }).total).toBe(5);
    for (const r of records) expect(a.get(r.id)).toEqual(r);
    await a.append([records[0]!], undefined, sheets);
    await a.close();
    const b = FileArchive.open(dir, { logger: silentLogger });
    for (const r of records) expect(b.get(r.id)).toEqual(r);
    expect(b.counts()).toMatchObject({ done: 5, total: 5 });
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records stay readable while the thread has made their search rows and the loop has not heard yet', async () => {
    const { records, sheets } = archived();
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const warnings: string[] = [];
    const a = FileArchive.open(dir, { logger: { log: (level, msg) => void (level === 'warn' && warnings.push(msg)) } });
    await a.append(records, undefined, sheets);
    // The thread commits the search rows (and deletes the unit row); its answer is held back, as
    // when the loop is busy (a generation change) while the thread commits.
    const writer = (a as unknown as { writer: Record<string, (...args: unknown[]) => Promise<unknown>> }).writer;
    const makeRows = writer.makeRows!.bind(writer);
    let committed!: () => void;
    const onDisk = new Promise<void>((r) => (committed = r));
    const held: (() => void)[] = [];
    writer.makeRows = (...args) =>
      makeRows(...args).then((answer) => {
        committed();
        return new Promise((resolve) => held.push(() => resolve(answer)));
      });
    const making = (a as unknown as { makeRowsOnThread(n: number): Promise<number> }).makeRowsOnThread(10);
    await onDisk;
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n).toBe(records.length);
    db.close();
    for (const r of records) {
      expect(a.has!(r.id)).toBe(true);
      expect(a.get(r.id)).toEqual(r);
      expect(a.summary!(r.id)).toMatchObject({ state: 'done' });
    }
    expect(new Set(a.byGeneration('g').map((r) => r.id))).toEqual(new Set(records.map((r) => r.id)));
    expect(a.counts()).toMatchObject({ done: 5, total: 5 });
    for (const release of held) release();
    expect(await making).toBe(1);
    for (const r of records) expect(a.get(r.id)).toEqual(r);
    expect(a.byGeneration('g')).toHaveLength(records.length);
    await a.close();
    expect(warnings).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the duplicate runs of records waiting in unit rows, each task once, before and after their rows are made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const rec = (id: string, runs: number) => doneBy(id, runs, 1);
    await a.append([rec('x', 2), rec('y', 1), rec('z', 3)]);
    expect(a.query!({ limit: 1 }).total).toBe(3); // the rows are made
    expect(a.duplicateRuns!()).toBe(3);
    // Newer records wait in a unit row: x unchanged, y run twice now, z's replaced by one with 2 runs.
    await a.append([rec('x', 2), rec('y', 2), rec('z', 2), rec('w', 2)]);
    expect(a.duplicateRuns!()).toBe(4);
    expect(a.query!({ limit: 1 }).total).toBe(4);
    expect(a.duplicateRuns!()).toBe(4);
    await a.close();
    const b = FileArchive.open(dir, { logger: silentLogger });
    expect(b.duplicateRuns!()).toBe(4);
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a task (state, duplicate runs) as its summary does, without reading a sheet: appended, in a unit row, in a search row', async () => {
    const { records, sheets } = archived();
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const reads = countSheetReads(a);
    const sheetReads = () => [...reads.values()].reduce((x, y) => x + y, 0);
    const dead: ArchiveRecord = { ...doneBy('d', 1, 0), state: 'dead', result: null };
    const all = [...records, doneBy('x', 3, 1), dead];
    const expected = (id: string) => ({ state: id === 'd' ? 'dead' : 'done', duplicates: id === 'x' ? 2 : 0 });
    const appended = a.append(all, undefined, sheets);
    for (const r of all) expect(a.counted!(r.id), `${r.id} being committed`).toEqual(expected(r.id));
    await appended;
    for (const r of all) expect(a.counted!(r.id), `${r.id} in a unit row`).toEqual(expected(r.id));
    expect(sheetReads()).toBe(0);
    expect(a.counted!('never-archived')).toBeUndefined();
    // The summary agrees, and makes the record whole from its sheets to say it.
    for (const r of all) expect(a.summary!(r.id)).toMatchObject(expected(r.id));
    expect(sheetReads()).toBeGreaterThan(0);
    expect(a.query!({ limit: 1 }).total).toBe(all.length); // the search rows are made
    for (const r of all) expect(a.counted!(r.id), `${r.id} in a search row`).toEqual(expected(r.id));
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the tasks of one unit row with each of its sheets read and decoded once, not once per task', async () => {
    const { records, sheets } = archived();
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append(records, undefined, sheets);
    const reads = countSheetReads(a);
    for (let round = 0; round < 2; round++) for (const r of records) expect(a.get(r.id)).toEqual(r);
    // segs/s1, acts/a1 and acts/a2, each once for the 5 tasks read twice (10 reads of each before).
    expect([...reads.entries()].sort()).toEqual([['acts/a1', 1], ['acts/a2', 1], ['segs/s1', 1]]);
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a unit committed on the loop while the thread is behind overtakes nothing: rows are made in append order, and its sheets go with it', async () => {
    const { records, sheets } = archived();
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const warnings: string[] = [];
    const a = FileArchive.open(dir, { logger: { log: (level, msg) => void (level === 'warn' && warnings.push(msg)) } });
    // The thread commits nothing until released, as when it gets no CPU.
    const writer = (a as unknown as { writer: Record<string, (...args: unknown[]) => Promise<unknown>> }).writer;
    const writeUnit = writer.writeUnit!.bind(writer);
    const held: (() => void)[] = [];
    writer.writeUnit = (...args) => new Promise((resolve, reject) => held.push(() => void writeUnit(...args).then(resolve, reject)));
    const x = (runs: number, result: number) => doneBy('x', runs, result);
    const plain = (id: string): ArchiveRecord => ({ id, spec: { id, type: 'echo' }, facts: {}, state: 'done', finishedAt: 1, result: null, peer: null, attempts: 1, gen: 'g', archivedAt: 1 });
    // The first append brings the sheets; 16 appends wait on the thread.
    const onThread = [a.append([records[0]!, x(2, 1)], undefined, sheets), ...Array.from({ length: 15 }, (_, i) => a.append([plain(`f-${i}`)]))];
    expect(held).toHaveLength(16);
    // The next one is committed on the loop, ahead of them, with a newer record of x.
    await a.append([records[1]!, x(1, 2)], undefined, sheets);
    expect(held).toHaveLength(16);
    // Its records are whole on disk on their own: the sheets they refer to went with it.
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM sheets').get() as { n: number }).n).toBe(sheets.size);
    db.close();
    // No search row is made past a unit still being committed.
    expect(a.query!({ limit: 100 }).total).toBe(0);
    expect(a.get('x')?.result).toBe(2);
    for (const release of held) release();
    await Promise.all(onThread);
    expect(a.query!({ limit: 100 }).total).toBe(18);
    expect(a.get('x')?.result).toBe(2);
    expect(a.get(records[1]!.id)).toEqual(records[1]);
    expect(a.duplicateRuns!()).toBe(0);
    await a.close();
    const b = FileArchive.open(dir, { logger: silentLogger });
    expect(b.get('x')?.result).toBe(2);
    expect(b.duplicateRuns!()).toBe(0);
    expect(b.counts()).toMatchObject({ done: 18, total: 18 });
    await b.close();
    expect(warnings).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
