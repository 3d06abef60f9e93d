// A compaction waits for the archive writes of tasks its log still holds. A task deleted (archived)
// *while* it waits used to be in neither the snapshot (taken after the wait) nor the log (replaced
// by it), only in its pending archive write: a crash before that write lost the task on this peer.
// Now the log is sealed at the compaction's start with a snapshot of that moment, and the deletion
// stays in the log after it, so a restart replays it and archives the task again.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryArchive, MemoryDisk, MemoryStorage, type Archive, type ArchiveRecord, type Storage } from '@agentmesh/crdt-store';
import { openFileStorage } from '@agentmesh/crdt-store/node';
import type { TaskFacts } from '@agentmesh/scheduler';
import { MemoryHub, Peer, silentLogger, systemClock } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An archive whose writes wait, while `gate` is set, until the test releases each of them. */
class GatedArchive extends MemoryArchive {
  gate = false;
  readonly held: { ids: string[]; release: () => void }[] = [];
  override async append(records: ArchiveRecord[], parsed?: ReadonlyMap<ArchiveRecord, TaskFacts>, sheets?: ReadonlyMap<string, Uint8Array>): Promise<void> {
    if (this.gate) await new Promise<void>((release) => this.held.push({ ids: records.map((r) => r.id), release }));
    return super.append(records, parsed, sheets);
  }
}

function makePeer(storage: Storage, archive: Archive, seed: number): Peer {
  return new Peer({
    id: 'pa', name: 'PA', capacity: 100, agents: { echo: (x) => x }, transport: new MemoryHub().join('pa'), storage, archive, clock: systemClock, seed,
    // Nothing is archived or compacted but by the test.
    timing: { ...FAST_TIMING, compactEveryRecords: 1_000_000 },
    rollover: { retentionMs: 3_600_000, maxFinished: 1_000_000, checkMs: 3_600_000 },
  });
}

const variants: { name: string; open: () => Promise<{ storage: Storage; crash: (s: Storage) => Promise<void>; reopen: () => Promise<Storage> }> }[] = [
  {
    name: 'memory disk, crashed',
    open: async () => {
      const disk = new MemoryDisk();
      return { storage: new MemoryStorage(disk), crash: async () => disk.crash(), reopen: async () => new MemoryStorage(disk) };
    },
  },
  {
    name: 'files',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'am-compact-'));
      dirs.push(dir);
      // The peer is crashed; its files are released as a killed process's would be (all was flushed).
      return { storage: await openFileStorage(dir, { logger: silentLogger }), crash: (s) => s.close(), reopen: () => openFileStorage(dir, { logger: silentLogger }) };
    },
  },
];

describe('a compaction while archive writes are pending', () => {
  for (const v of variants) {
    it(`keeps a task deleted during its wait in the log, so a restart archives it (${v.name})`, async () => {
      const { storage, crash, reopen } = await v.open();
      const archive = new GatedArchive();
      const p = makePeer(storage, archive, 1);
      await p.start();
      const a = (await p.submit(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: i })))).map((s) => s.id);
      const b = (await p.submit(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: 10 + i })))).map((s) => s.id);
      await until(() => p.status().tasks.done === 10, 5000);
      await p.flush();
      archive.gate = true;
      // A leaves the live document; its archive write waits. The compaction waits for it.
      expect(p.document.board.deleteTasks(new Set(a))).toBeGreaterThan(0);
      expect(archive.held.map((h) => h.ids.sort())).toEqual([[...a].sort()]);
      let compacted = false;
      const compacting = p.compact().then(() => (compacted = true));
      // B leaves while the compaction waits; its write is held and never made before the crash.
      expect(p.document.board.deleteTasks(new Set(b))).toBeGreaterThan(0);
      expect(archive.held).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 20));
      expect(compacted).toBe(false);
      archive.held[0]!.release();
      await compacting;
      await p.flush();
      expect(storage.stats().snapshotBytes).toBeGreaterThan(0);
      expect(a.every((id) => archive.get(id)?.state === 'done')).toBe(true);
      expect(b.some((id) => archive.get(id) !== undefined)).toBe(false);
      p.crash();
      await crash(storage);
      // What survived the crash: A's archive write; B's never happened.
      const archive2 = new MemoryArchive();
      await archive2.append(a.map((id) => archive.get(id)!));
      const again = makePeer(await reopen(), archive2, 2);
      await again.start();
      try {
        await until(() => b.every((id) => archive2.get(id) !== undefined), 5000, 'the tasks deleted during the compaction to be archived again');
        for (const id of b) {
          expect(archive2.get(id)).toMatchObject({ state: 'done' });
          expect(again.view(id)).toBeUndefined(); // not live either: the deletion replayed
        }
        expect(again.status().tasks.done).toBe(10);
      } finally {
        await again.stop();
      }
    });
  }
});
