// Checks the Node file storage on real files: round trips, repair of torn/corrupt logs and
// snapshots, crash points inside compaction, group commit, the LOCK, and real kill -9 of a
// writing child process (every acknowledged update must come back, in order).

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as Y from 'yjs';
import { isMeshError, silentLogger } from '@agentmesh/scheduler';
import { LOG_MAGIC, encodeRecord, encodeSnapshot } from '../src/log-codec.js';
import { openFileStorage, type FileStorage } from '../src/node.js';
import type { LoadedState } from '../src/storage.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = await mkdtemp(join(tmpdir(), 'crdt-store-test-'));
let dirCount = 0;
const newDir = (): string => join(root, `d${++dirCount}`);
afterAll(() => rm(root, { recursive: true, force: true }));

const u = (n: number, len = 20): Uint8Array => new Uint8Array(len).fill(n);
const list = (xs: Uint8Array[]): number[][] => xs.map((x) => Array.from(x));

async function openQuiet(dir: string, more: { maxBufferBytes?: number } = {}) {
  const logs: string[] = [];
  const s = await openFileStorage(dir, { logger: { log: (_level, m) => logs.push(m) }, ...more });
  return { s, logs };
}

async function reload(dir: string): Promise<LoadedState & { logs: string[] }> {
  const { s, logs } = await openQuiet(dir);
  try {
    return { ...(await s.load()), logs };
  } finally {
    await s.close();
  }
}

async function writeRecords(dir: string, payloads: Uint8Array[]): Promise<void> {
  const { s } = await openQuiet(dir);
  for (const p of payloads) s.append(p);
  await s.close();
}

function docFrom(state: LoadedState): Y.Doc {
  const doc = new Y.Doc();
  if (state.snapshot) Y.applyUpdate(doc, state.snapshot);
  for (const up of state.updates) Y.applyUpdate(doc, up);
  return doc;
}

describe('FileStorage basics', () => {
  it('round-trips appends across close and reopen, with stats', async () => {
    const dir = newDir();
    const { s } = await openQuiet(dir);
    expect(await s.load()).toEqual({ snapshot: null, updates: [], warnings: [] });
    s.append(u(1));
    s.append(u(2, 5));
    expect(s.stats()).toEqual({ logBytes: 8, snapshotBytes: 0, logRecords: 0, pendingRecords: 2 });
    await s.flush();
    expect(s.stats()).toEqual({ logBytes: 8 + 36 + 21, snapshotBytes: 0, logRecords: 2, pendingRecords: 0 });
    expect(list((await s.load()).updates)).toEqual(list([u(1), u(2, 5)])); // a later load re-reads the disk
    s.append(u(3));
    await s.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    const state = await reload(dir);
    expect(list(state.updates)).toEqual(list([u(1), u(2, 5), u(3)]));
    expect(state.warnings).toEqual([]);
    expect(statSync(join(dir, 'log.bin')).size).toBe(8 + 36 + 21 + 36);
  });

  it('rejects work after close; close is idempotent', async () => {
    const { s } = await openQuiet(newDir());
    await s.close();
    await s.close();
    expect(() => s.append(u(1))).toThrow(expect.objectContaining({ code: 'STORAGE_CLOSED' }));
    await expect(s.flush()).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(s.compact(u(1))).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    expect(() => s.append(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'STORAGE_CLOSED' }));
  });

  it('concurrent flushes share one fdatasync (group commit)', async () => {
    const dir = newDir();
    const { s } = await openQuiet(dir);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const spy = vi.spyOn(proto, 'datasync');
    try {
      const flushes: Promise<void>[] = [];
      for (let i = 1; i <= 50; i++) {
        s.append(u(i));
        flushes.push(s.flush());
      }
      await Promise.all(flushes);
      expect(spy).toHaveBeenCalledTimes(1);
      // appended while a write is in flight: covered by the next write, not the running one
      s.append(u(51));
      const a = s.flush();
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
      s.append(u(52));
      const b = s.flush();
      await Promise.all([a, b]);
      expect(s.stats().pendingRecords).toBe(0);
    } finally {
      spy.mockRestore();
    }
    await s.close();
    expect((await reload(dir)).updates).toHaveLength(52);
  });

  it('starts a background flush when the buffer exceeds maxBufferBytes', async () => {
    const dir = newDir();
    const { s } = await openQuiet(dir, { maxBufferBytes: 100 });
    for (let i = 0; i < 5; i++) s.append(u(i, 30));
    expect(s.stats().pendingRecords).toBeGreaterThan(0);
    for (let i = 0; i < 200 && s.stats().pendingRecords > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(s.stats()).toMatchObject({ pendingRecords: 0, logRecords: 5 });
    expect(statSync(join(dir, 'log.bin')).size).toBe(8 + 5 * 46);
    await s.close();
  });
});

describe('FileStorage repair', () => {
  it('a truncated tail loads the records before it with a warning, repairs the file, and later appends load', async () => {
    const rec = encodeRecord(u(3)).length; // 36
    for (const cut of [1, 2, 7, 8, 9, rec - 1, rec + 1, rec + 20]) {
      const dir = newDir();
      await writeRecords(dir, [u(1), u(2), u(3)]);
      const full = 8 + 3 * rec;
      await truncate(join(dir, 'log.bin'), full - cut);
      const keep = cut < rec ? 2 : 1; // whole records left before the cut
      const { s, logs } = await openQuiet(dir);
      const state = await s.load();
      expect(list(state.updates)).toEqual(list([u(1), u(2), u(3)].slice(0, keep)));
      expect(state.warnings).toHaveLength(1);
      expect(state.warnings[0]).toMatch(new RegExp(`truncated .* at offset ${8 + keep * rec}`));
      expect(logs).toContain(state.warnings[0]);
      expect(statSync(join(dir, 'log.bin')).size).toBe(8 + keep * rec);
      s.append(u(9));
      await s.close();
      const again = await reload(dir);
      expect(list(again.updates)).toEqual(list([...[u(1), u(2), u(3)].slice(0, keep), u(9)]));
      expect(again.warnings).toEqual([]);
    }
  });

  it('a flipped byte mid-log costs that record only: the damaged log is kept aside, the rest loads', async () => {
    const dir = newDir();
    await writeRecords(dir, [u(1), u(2), u(3), u(4)]);
    const path = join(dir, 'log.bin');
    const bytes = await readFile(path);
    const second = 8 + 36;
    bytes[second + 16 + 10]! ^= 0x40;
    await writeFile(path, bytes);
    const state = await reload(dir);
    expect(list(state.updates)).toEqual(list([u(1), u(3), u(4)]));
    expect(state.warnings[0]).toMatch(new RegExp(`log\\.bin: lost 1 record at bytes ${second}\\.\\.${second + 36} .*checksum mismatch`));
    expect(state.warnings[1]).toMatch(/kept the damaged log as .*log\.bin\.corrupt-1/);
    expect(Array.from(await readFile(`${path}.corrupt-1`))).toEqual(Array.from(bytes));
    expect(statSync(path).size).toBe(8 + 3 * 36);
  });

  it('a garbage log (random bytes) does not throw: it is moved aside and a fresh log starts', async () => {
    for (let i = 0; i < 5; i++) {
      const dir = newDir();
      await writeRecords(dir, []);
      await writeFile(join(dir, 'log.bin'), randomBytes(1 + Math.floor(Math.random() * 2000)));
      await writeFile(join(dir, 'snapshot.bin'), randomBytes(100));
      const { s } = await openQuiet(dir);
      const state = await s.load();
      expect(state.snapshot).toBeNull();
      expect(state.updates).toEqual([]);
      expect(state.warnings).toHaveLength(3);
      expect(state.warnings[1]).toMatch(/log\.bin: .*; starting a fresh log$/);
      expect(state.warnings[2]).toMatch(/log\.bin: kept the damaged log as .*log\.bin\.corrupt-1; the log now holds the 0 readable records/);
      expect((await readdir(dir)).sort()).toEqual(
        ['LOCK', 'log.bin', 'log.bin.corrupt-1', 'snapshot.bin.corrupt-1'].sort(),
      );
      s.append(u(5));
      await s.close();
      expect(list((await reload(dir)).updates)).toEqual(list([u(5)]));
    }
  });

  it('garbage after a valid header never throws', async () => {
    const dir = newDir();
    await writeRecords(dir, [u(1)]);
    const path = join(dir, 'log.bin');
    const good = await readFile(path);
    for (let i = 0; i < 10; i++) {
      await writeFile(path, Buffer.concat([good, randomBytes(1 + Math.floor(Math.random() * 500))]));
      const state = await reload(dir);
      expect(list(state.updates.slice(0, 1))).toEqual(list([u(1)]));
      expect(statSync(path).size).toBeGreaterThanOrEqual(good.length);
    }
  });

  it('a corrupt snapshot is moved aside with a warning and the log still loads', async () => {
    const dir = newDir();
    await writeRecords(dir, [u(1), u(2)]);
    const snap = encodeSnapshot(u(7));
    snap[snap.length - 1]! ^= 1;
    await writeFile(join(dir, 'snapshot.bin'), snap);
    const state = await reload(dir);
    expect(state.snapshot).toBeNull();
    expect(list(state.updates)).toEqual(list([u(1), u(2)]));
    expect(state.warnings).toHaveLength(1);
    expect(state.warnings[0]).toMatch(/snapshot\.bin: corrupt snapshot: checksum mismatch; moved it to .*snapshot\.bin\.corrupt-1/);
    expect(Array.from(await readFile(join(dir, 'snapshot.bin.corrupt-1')))).toEqual(Array.from(snap));
    expect(existsSync(join(dir, 'snapshot.bin'))).toBe(false);
  });
});

describe('FileStorage compaction', () => {
  async function buildHistory(dir: string): Promise<{ doc: Y.Doc; s: FileStorage }> {
    const { s } = await openQuiet(dir);
    const doc = new Y.Doc();
    doc.on('update', (up: Uint8Array) => s.append(up));
    const arr = doc.getArray<number>('a');
    for (let i = 0; i < 20; i++) arr.push([i]);
    return { doc, s };
  }
  const expected = Array.from({ length: 30 }, (_, i) => i);

  it('keeps everything, empties the log, and later appends follow it', async () => {
    const dir = newDir();
    const { doc, s } = await buildHistory(dir);
    await s.compact(Y.encodeStateAsUpdate(doc));
    expect(s.stats()).toMatchObject({ logBytes: 8, logRecords: 0, pendingRecords: 0 });
    expect(statSync(join(dir, 'log.bin')).size).toBe(8);
    for (let i = 20; i < 30; i++) doc.getArray<number>('a').push([i]);
    await s.close();
    const state = await reload(dir);
    expect(state.updates).toHaveLength(10);
    expect(docFrom(state).getArray('a').toArray()).toEqual(expected);
    expect(state.warnings).toEqual([]);
  });

  it('appends made while compact() runs are not lost', async () => {
    const dir = newDir();
    const { doc, s } = await buildHistory(dir);
    const compacting = s.compact(Y.encodeStateAsUpdate(doc));
    const flushes: Promise<void>[] = [];
    for (let i = 20; i < 30; i++) {
      doc.getArray<number>('a').push([i]);
      flushes.push(s.flush());
    }
    await Promise.all([compacting, ...flushes]);
    await s.close();
    const state = await reload(dir);
    expect(docFrom(state).getArray('a').toArray()).toEqual(expected);
  });

  /** Leaves dir as if the process died at a given point of the second compaction. */
  async function crashDuringCompaction(point: 'torn-tmp' | 'tmp-written' | 'renamed'): Promise<string> {
    const dir = newDir();
    const { doc, s } = await buildHistory(dir);
    await s.compact(Y.encodeStateAsUpdate(doc)); // an older snapshot exists
    for (let i = 20; i < 30; i++) doc.getArray<number>('a').push([i]);
    await s.close();
    const next = encodeSnapshot(Y.encodeStateAsUpdate(doc));
    if (point === 'torn-tmp') await writeFile(join(dir, 'snapshot.bin.tmp'), next.subarray(0, 30));
    if (point === 'tmp-written') await writeFile(join(dir, 'snapshot.bin.tmp'), next);
    if (point === 'renamed') await writeFile(join(dir, 'snapshot.bin'), next); // log not yet emptied
    return dir;
  }

  for (const point of ['torn-tmp', 'tmp-written', 'renamed'] as const) {
    it(`a crash during compaction (${point}) still loads every update`, async () => {
      const dir = await crashDuringCompaction(point);
      const state = await reload(dir);
      expect(state.updates).toHaveLength(10); // the log was not emptied yet
      expect(docFrom(state).getArray('a').toArray()).toEqual(expected);
      expect(existsSync(join(dir, 'snapshot.bin.tmp'))).toBe(false);
    });
  }
});

describe('FileStorage options', () => {
  it('a plain-JS caller passing the retired log option gets INVALID_ARGUMENT, and nothing is opened', async () => {
    const dir = newDir();
    const opts = { log: () => {} } as unknown as Parameters<typeof openFileStorage>[1];
    await expect(openFileStorage(dir, opts)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(existsSync(dir)).toBe(false);
  });
});

describe('FileStorage lock', () => {
  it('a second open of the same dir in this process fails while the first is open', async () => {
    const dir = newDir();
    const { s } = await openQuiet(dir);
    await expect(openFileStorage(dir, { logger: silentLogger })).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' });
    await s.close();
    const again = await openQuiet(dir);
    await again.s.close();
  });

  it('a LOCK held by another live process fails with DATA_DIR_LOCKED', async () => {
    const dir = newDir();
    await writeRecords(dir, []);
    await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`); // our parent: alive, not us
    let err: unknown;
    await openFileStorage(dir, { logger: silentLogger }).catch((e: unknown) => (err = e));
    expect(isMeshError(err, 'DATA_DIR_LOCKED')).toBe(true);
    expect((err as Error).message).toBe(`data dir ${dir} is in use by pid ${process.ppid}`);
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('a stale LOCK of a dead pid is taken over with a log line and removed on close', async () => {
    const dir = newDir();
    await writeRecords(dir, [u(1)]);
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => child.on('exit', r));
    const deadPid = child.pid!;
    await writeFile(join(dir, 'LOCK'), `${deadPid}\n`);
    const { s, logs } = await openQuiet(dir);
    expect(logs.some((l) => l.includes(`stale lock of pid ${deadPid}`))).toBe(true);
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
    expect(list((await s.load()).updates)).toEqual(list([u(1)]));
    await s.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  });
});

describe('FileStorage under kill -9', () => {
  const fixture = join(pkgDir, 'test', 'fixtures', 'kill-writer.mjs');

  beforeAll(() => {
    // The child imports the built dist; build it (tsc -b also builds @agentmesh/scheduler).
    try {
      execFileSync(process.execPath, [join(pkgDir, '../../node_modules/typescript/bin/tsc'), '-b', pkgDir], {
        stdio: 'pipe',
      });
    } catch (e) {
      // Errors in files owned by others may fail the build but still emit; insist only on ours.
      const out = String((e as { stdout?: unknown }).stdout ?? e);
      for (const f of ['node', 'log-codec']) {
        const dist = join(pkgDir, 'dist', `${f}.js`);
        if (!existsSync(dist) || statSync(dist).mtimeMs < statSync(join(pkgDir, 'src', `${f}.ts`)).mtimeMs) {
          throw new Error(`build of crdt-store failed:\n${out}`);
        }
      }
    }
  });

  function runChild(dir: string, compactEvery: number, killAfterMs: number) {
    return new Promise<{ out: string; err: string }>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [fixture, dir, String(compactEvery)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let timer: NodeJS.Timeout | undefined;
      const giveUp = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!timer && out.includes('start ')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(giveUp);
        clearTimeout(timer);
        if (signal !== 'SIGKILL') reject(new Error(`child ended by itself (code ${code}):\n${err}`));
        else resolvePromise({ out, err });
      });
    });
  }

  it('every acknowledged update survives, in order, across repeated SIGKILLs', async () => {
    const dir = newDir();
    let lastAck = -1;
    let totalAcks = 0;
    for (let iter = 0; iter < 8; iter++) {
      const compactEvery = iter % 2 === 0 ? 0 : 3 + iter; // odd rounds also compact now and then
      const { out } = await runChild(dir, compactEvery, 100 + Math.floor(Math.random() * 300));
      const lines = out.split('\n').slice(0, -1); // complete lines only
      const start = Number(lines[0]?.match(/^start (\d+)$/)?.[1]);
      expect(start).toBeGreaterThan(lastAck); // the child restored at least what was acked
      for (const line of lines.slice(1)) {
        const ack = Number(line.match(/^ack (\d+)$/)?.[1]);
        expect(ack).toBeGreaterThan(lastAck);
        lastAck = ack;
        totalAcks++;
      }
      const state = await reload(dir);
      const doc = docFrom(state);
      expect(doc.store.pendingStructs).toBeNull(); // no update is missing its predecessors
      const items = doc.getArray<{ n: number; pad: string }>('seq').toArray();
      expect(items.length).toBeGreaterThan(lastAck);
      items.forEach((item, i) => {
        expect(item.n).toBe(i);
        expect(item.pad).toBe('x'.repeat(i % 300));
      });
      for (const w of state.warnings) expect(w).toMatch(/log\.bin: .* at offset \d+; cut/);
    }
    expect(totalAcks).toBeGreaterThan(8);
  });
});
