// Checks the simulator's in-memory storage: what survives a simulated crash (flushed data),
// what does not (unflushed data), torn tails, deferred durability and compaction.

import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { isMeshError } from '@agentmesh/scheduler';
import { LOG_MAGIC, RECORD_HEADER_BYTES, encodeRecord } from '../src/log-codec.js';
import { decodeLog } from '../src/log-reader.js';
import { MemoryDisk, MemoryStorage } from '../src/memory-storage.js';

const u = (n: number): Uint8Array => Uint8Array.of(n, n + 1, n + 2);
const list = (xs: Uint8Array[]): number[][] => xs.map((x) => Array.from(x));

async function loadFresh(disk: MemoryDisk) {
  const s = new MemoryStorage(disk);
  const state = await s.load();
  return { s, state };
}

describe('MemoryStorage', () => {
  it('a fresh disk loads empty and gets a log header', async () => {
    const disk = new MemoryDisk();
    const { state } = await loadFresh(disk);
    expect(state).toEqual({ snapshot: null, updates: [], warnings: [] });
    expect(Array.from(disk.logBytes())).toEqual(Array.from(LOG_MAGIC));
  });

  it('flushed appends survive a crash, unflushed ones do not', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    s.append(u(1));
    s.append(u(2));
    expect(s.stats().pendingRecords).toBe(2);
    await s.flush();
    expect(s.stats()).toMatchObject({ pendingRecords: 0, logRecords: 2 });
    s.append(u(3));
    disk.crash();
    const { state } = await loadFresh(disk);
    expect(list(state.updates)).toEqual(list([u(1), u(2)]));
    expect(state.warnings).toEqual([]);
  });

  it('the storage is dead after a crash', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    disk.crash();
    expect(() => s.append(u(1))).toThrow(expect.objectContaining({ code: 'STORAGE_CLOSED' }));
    await expect(s.flush()).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(s.load()).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(s.compact(u(0))).rejects.toMatchObject({ code: 'STORAGE_CLOSED' });
    await expect(s.close()).resolves.toBeUndefined();
  });

  it('a torn tail is cut with a warning and the records before it load', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    s.append(u(1));
    await s.flush();
    s.append(u(2));
    s.append(u(3));
    const goodLength = disk.logBytes().length;
    disk.crash({ keepBytes: encodeRecord(u(2)).length + 5 });
    expect(disk.logBytes().length).toBe(goodLength + encodeRecord(u(2)).length + 5);
    const { s: s2, state } = await loadFresh(disk);
    // u(2) was written whole before the tear, so it is intact and loads; u(3) is torn.
    expect(list(state.updates)).toEqual(list([u(1), u(2)]));
    expect(state.warnings).toHaveLength(1);
    expect(state.warnings[0]).toMatch(/truncated record.*offset/);
    // the disk was repaired: new appends follow the good data and load after a clean restart
    expect(decodeLog(disk.logBytes()).problem).toBeNull();
    s2.append(u(4));
    await s2.close();
    const again = await loadFresh(disk);
    expect(list(again.state.updates)).toEqual(list([u(1), u(2), u(4)]));
    expect(again.state.warnings).toEqual([]);
  });

  it('a tear inside the first unflushed record keeps only the flushed ones', async () => {
    for (let keep = 1; keep < encodeRecord(u(2)).length; keep++) {
      const disk = new MemoryDisk();
      const s = new MemoryStorage(disk);
      s.append(u(1));
      await s.flush();
      s.append(u(2));
      disk.crash({ keepBytes: keep });
      const { state } = await loadFresh(disk);
      expect(list(state.updates)).toEqual(list([u(1)]));
      expect(state.warnings).toHaveLength(1);
    }
  });

  it('a corrupted byte costs that record only: a copy is kept, the records after it load, the loss is named', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    for (let i = 0; i < 4; i++) s.append(u(i * 10));
    await s.close();
    const second = LOG_MAGIC.length + encodeRecord(u(0)).length;
    const before = disk.logBytes().slice();
    disk.corruptLogAt(second + RECORD_HEADER_BYTES + 1);
    const damaged = disk.logBytes().slice();
    const { s: s2, state } = await loadFresh(disk);
    expect(list(state.updates)).toEqual(list([u(0), u(20), u(30)]));
    expect(state.warnings).toHaveLength(2);
    expect(state.warnings[0]).toMatch(new RegExp(`^log: lost 1 record at bytes ${second}\\.\\.${second + 19} .*checksum.* after record #1 of the 3 read`));
    expect(state.warnings[1]).toMatch(/kept the damaged log as damaged copy #1/);
    expect(state.lost).toEqual([{ offset: second, bytes: 19, records: 1, exact: true, before: 1, reason: expect.stringMatching(/checksum/), payload: Uint8Array.of(10, 11 ^ 0xff, 12) }]);
    expect(disk.damagedLogs).toEqual([damaged]);
    expect(disk.logBytes().length).toBe(before.length - 19); // rewritten without the damaged record
    s2.append(u(40));
    await s2.close();
    const again = await loadFresh(disk);
    expect(list(again.state.updates)).toEqual(list([u(0), u(20), u(30), u(40)]));
    expect(again.state.warnings).toEqual([]);
  });

  it('a corrupted log header keeps every record', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    for (let i = 0; i < 4; i++) s.append(u(i * 10));
    await s.close();
    disk.corruptLogAt(3);
    const { state } = await loadFresh(disk);
    expect(list(state.updates)).toEqual(list([u(0), u(10), u(20), u(30)]));
    expect(state.warnings[0]).toMatch(/bad magic header; read the 4 records after it anyway/);
    expect(state.lost).toBeUndefined();
    expect(disk.damagedLogs).toHaveLength(1);
    expect(decodeLog(disk.logBytes()).problem).toBeNull();
  });

  it('with defer, nothing is durable until the simulator runs the deferred flush', async () => {
    const disk = new MemoryDisk();
    const deferred: Array<() => void> = [];
    const s = new MemoryStorage(disk, { defer: (fn) => deferred.push(fn) });
    s.append(u(1));
    let done = false;
    const p1 = s.flush().then(() => (done = true));
    s.append(u(2));
    const p2 = s.flush();
    expect(deferred).toHaveLength(1); // both flushes share one (group commit)
    await Promise.resolve();
    await Promise.resolve();
    expect(done).toBe(false);
    expect(decodeLog(disk.logBytes()).records).toHaveLength(0);
    deferred[0]!();
    await p1;
    await p2;
    expect(done).toBe(true);
    expect(list(decodeLog(disk.logBytes()).records)).toEqual(list([u(1), u(2)]));
  });

  it('with defer, a crash before the deferred flush loses the data and the flush never resolves', async () => {
    const disk = new MemoryDisk();
    const deferred: Array<() => void> = [];
    const s = new MemoryStorage(disk, { defer: (fn) => deferred.push(fn) });
    s.append(u(1));
    let settled = false;
    s.flush().then(
      () => (settled = true),
      () => (settled = true),
    );
    disk.crash();
    deferred[0]!(); // the simulator may still run it; it must not write anything
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    const { state } = await loadFresh(disk);
    expect(state.updates).toEqual([]);
  });

  it('only one live storage per disk', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    let err: unknown;
    try {
      new MemoryStorage(disk);
    } catch (e) {
      err = e;
    }
    expect(isMeshError(err, 'DATA_DIR_LOCKED')).toBe(true);
    await s.close();
    await s.close(); // idempotent
    expect(() => s.append(u(1))).toThrow(expect.objectContaining({ code: 'STORAGE_CLOSED' }));
    expect(() => new MemoryStorage(disk)).not.toThrow();
  });

  it('close makes pending appends durable', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk, { defer: () => {} });
    s.append(u(7));
    await s.close();
    disk.crash();
    expect(list((await loadFresh(disk)).state.updates)).toEqual(list([u(7)]));
  });

  it('a corrupt snapshot is dropped with a warning and the log still loads', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    s.append(u(1));
    await s.close();
    disk.setSnapshotBytes(Uint8Array.of(1, 2, 3));
    const { state } = await loadFresh(disk);
    expect(state.snapshot).toBeNull();
    expect(list(state.updates)).toEqual(list([u(1)]));
    expect(state.warnings[0]).toMatch(/snapshot.*bad magic/);
    expect(disk.damagedSnapshots).toHaveLength(1);
    expect(disk.snapshotBytes()).toBeNull();
  });

  it('compaction keeps the whole Yjs state; appends after it stay in the log', async () => {
    const disk = new MemoryDisk();
    const s = new MemoryStorage(disk);
    const doc = new Y.Doc();
    doc.on('update', (update: Uint8Array) => s.append(update));
    const arr = doc.getArray<number>('a');
    for (let i = 0; i < 10; i++) arr.push([i]);
    await s.flush();
    await s.compact(Y.encodeStateAsUpdate(doc));
    expect(s.stats()).toMatchObject({ logRecords: 0, logBytes: LOG_MAGIC.length, pendingRecords: 0 });
    expect(s.stats().snapshotBytes).toBeGreaterThan(16);
    arr.push([10]);
    await s.flush();
    disk.crash();
    const { state } = await loadFresh(disk);
    expect(state.updates).toHaveLength(1);
    const restored = new Y.Doc();
    Y.applyUpdate(restored, state.snapshot!);
    for (const up of state.updates) Y.applyUpdate(restored, up);
    expect(restored.getArray<number>('a').toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
