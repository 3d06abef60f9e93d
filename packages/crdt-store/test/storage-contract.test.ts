// Runs the Storage contract ('@agentmesh/crdt-store/testing') against both implementations, and
// shows that the contract has teeth: deliberately broken storages (one losing the last flushed
// update on restart, one accepting appends after close, one whose stats forget pending records,
// one losing every update after a damaged one) each fail the checks they break, and only those.

import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@agentmesh/scheduler';
import { MemoryDisk, MemoryStorage } from '../src/memory-storage.js';
import { openFileStorage } from '../src/node.js';
import type { LoadedState, Storage, StorageStats } from '../src/storage.js';
import { checkStorageContract, runStorageContract, storageContractChecks, type StorageSetup } from '../src/testing.js';

const memorySetup: StorageSetup = () => {
  const disk = new MemoryDisk();
  return { storage: new MemoryStorage(disk), reopen: () => new MemoryStorage(disk), damageLog: (pick) => disk.corruptLogAt(pick(disk.logSize())) };
};

const fileSetup: StorageSetup = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'crdt-store-contract-'));
  const quiet = { logger: silentLogger };
  const log = join(dir, 'log.bin');
  return {
    storage: await openFileStorage(dir, quiet),
    reopen: () => openFileStorage(dir, quiet),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    async damageLog(pick) {
      const bytes = await readFile(log);
      bytes[pick(bytes.length)]! ^= 0xff;
      await writeFile(log, bytes);
    },
  };
};

runStorageContract('MemoryStorage', memorySetup, { describe, it });
runStorageContract('MemoryStorage with a deferred flush', () => {
  const disk = new MemoryDisk();
  const defer = (fn: () => void) => void setTimeout(fn, 1);
  return { storage: new MemoryStorage(disk, { defer }), reopen: () => new MemoryStorage(disk, { defer }), damageLog: (pick) => disk.corruptLogAt(pick(disk.logSize())) };
}, { describe, it });
runStorageContract('FileStorage', fileSetup, { describe, it });

type Defect = 'drops-last-update' | 'appends-after-close' | 'forgets-pending' | 'cuts-after-damage' | 'ignores-ready';

/** A MemoryStorage with one defect, for showing that the contract notices it. */
class Broken implements Storage {
  constructor(
    private readonly inner: MemoryStorage,
    private readonly defect: Defect,
  ) {}
  private closed = false;
  async load(): Promise<LoadedState> {
    const state = await this.inner.load();
    if (this.defect === 'drops-last-update') return { ...state, updates: state.updates.slice(0, -1) };
    // What the log did before format 2: everything after the first damaged record is gone.
    if (this.defect === 'cuts-after-damage' && state.lost) return { ...state, updates: state.updates.slice(0, state.lost[0]!.before) };
    return state;
  }
  append(update: Uint8Array): void {
    if (this.defect === 'appends-after-close' && this.closed) return; // silently lost
    this.inner.append(update);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  compact(snapshot: Uint8Array, ready?: PromiseLike<unknown>): Promise<void> {
    // A storage written before `ready` existed: it compacts at once.
    return this.inner.compact(snapshot, this.defect === 'ignores-ready' ? undefined : ready);
  }
  stats(): StorageStats {
    const s = this.inner.stats();
    return this.defect === 'forgets-pending' ? { ...s, pendingRecords: 0 } : s;
  }
  close(): Promise<void> {
    this.closed = true;
    return this.inner.close();
  }
}

const brokenSetup = (defect: Defect): StorageSetup => () => {
  const disk = new MemoryDisk();
  return {
    storage: new Broken(new MemoryStorage(disk), defect),
    reopen: () => new Broken(new MemoryStorage(disk), defect),
    damageLog: (pick) => disk.corruptLogAt(pick(disk.logSize())),
  };
};

describe('the Storage contract fails broken storages', () => {
  it('a correct storage passes every check', async () => {
    expect(await checkStorageContract(memorySetup)).toEqual([]);
  });

  it('a storage that drops the last flushed update on restart fails the round-trip checks', async () => {
    const failures = await checkStorageContract(brokenSetup('drops-last-update'));
    const failed = new Set(failures.map((f) => f.check));
    expect(failed).toContain('flushed appends come back after a restart, in order and byte for byte');
    expect(failed).toContain('compact() replaces the log by the snapshot; appends after it stay in the log');
    expect(failed).toContain('close() makes pending appends durable and is idempotent');
    expect(failures.find((f) => f.check.startsWith('flushed appends'))!.message).toMatch(/4 updates, expected 5/);
    // a fresh (empty) storage has nothing to drop: that check still passes
    expect(failed).not.toContain(storageContractChecks[0]!.name);
  });

  it('a storage that accepts appends after close fails the closed-storage check only', async () => {
    const failures = await checkStorageContract(brokenSetup('appends-after-close'));
    expect(failures.map((f) => f.check)).toEqual(['after close(), append throws STORAGE_CLOSED and load/flush/compact reject with it']);
    expect(failures[0]!.message).toMatch(/append after close: did not throw/);
  });

  it('a storage that loses every update after a damaged one fails the damaged-log checks only', async () => {
    const failures = await checkStorageContract(brokenSetup('cuts-after-damage'));
    expect(new Set(failures.map((f) => f.check))).toEqual(new Set(storageContractChecks.filter((c) => c.name.includes('in the middle of the log')).map((c) => c.name)));
    expect(failures[0]!.message).toMatch(/after the damage: \d+ of 40 updates came back/);
  });

  it('a storage that compacts at once, ignoring ready, fails the checks of a compaction that waits', async () => {
    const failures = await checkStorageContract(brokenSetup('ignores-ready'));
    const failed = new Set(failures.map((f) => f.check));
    expect(failed).toContain('compact(snapshot, ready) seals the log at the call: appends while it waits are flushed meanwhile and stay after the snapshot');
    expect(failed).toContain('compact() with a rejected ready, or a close while it waits, changes nothing and loses nothing');
    expect([...failed].every((name) => name.includes('ready') || name.includes('waits'))).toBe(true);
  });

  it('a storage whose stats forget pending records fails the stats check only', async () => {
    const failures = await checkStorageContract(brokenSetup('forgets-pending'));
    expect(new Set(failures.map((f) => f.check))).toEqual(new Set(['stats() counts pending and durable records and bytes']));
    expect(failures[0]!.message).toMatch(/pendingRecords is 0, expected 3/);
  });
});
