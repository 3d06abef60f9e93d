// An archive write that fails must not let a compaction drop the only copy of what it held: the
// tasks it archived left the live document, so until the write is made they are only in the update
// log. The archiver writes a failed append again before a compaction goes on; when that fails too,
// the compaction is refused (ARCHIVE_FAILED) and the log kept, so a restart archives the tasks from
// it. A compaction the peer starts on its own that fails this way is logged; the flush (and the
// submit waiting on it) succeeds, and so does a stop. No new generation starts while writes are
// unmade (a restart replays only the newest generation's log).
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage, type Archive, type ArchiveRecord, type Storage } from '@agentmesh/crdt-store';
import type { TaskFacts } from '@agentmesh/scheduler';
import { MemoryHub, Peer, systemClock, type Logger } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

/** An archive whose next `failures` appends fail. */
class FlakyArchive extends MemoryArchive {
  failures = 0;
  attempts = 0;
  override async append(records: ArchiveRecord[], parsed?: ReadonlyMap<ArchiveRecord, TaskFacts>, sheets?: ReadonlyMap<string, Uint8Array>): Promise<void> {
    this.attempts++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('disk full');
    }
    return super.append(records, parsed, sheets);
  }
}

function makePeer(storage: Storage, archive: Archive, seed: number, compactEveryRecords = 1_000_000, logger?: Logger): Peer {
  return new Peer({
    id: 'pa', name: 'PA', capacity: 100, agents: { echo: (x) => x }, transport: new MemoryHub().join('pa'), storage, archive, clock: systemClock, seed,
    timing: { ...FAST_TIMING, compactEveryRecords },
    rollover: { retentionMs: 3_600_000, maxFinished: 1_000_000, checkMs: 3_600_000 },
    ...(logger ? { logger } : {}),
  });
}

async function fiveDone(p: Peer): Promise<string[]> {
  const ids = (await p.submit(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: i })))).map((s) => s.id);
  await until(() => p.status().tasks.done === 5, 5000);
  await p.flush();
  return ids;
}

/** `ids` leave the live document while the archive's next `failures` appends fail; waits for the first try. */
async function leaveFailing(p: Peer, archive: FlakyArchive, ids: string[], failures: number): Promise<void> {
  const tried = archive.attempts;
  archive.failures = failures;
  expect(p.document.board.deleteTasks(new Set(ids))).toBeGreaterThan(0);
  await until(() => archive.attempts > tried, 2000, 'the archive write');
}

describe('an archive write that fails', () => {
  it('is written again before a compaction goes on', async () => {
    const archive = new FlakyArchive();
    const storage = new MemoryStorage(new MemoryDisk());
    const p = makePeer(storage, archive, 1);
    await p.start();
    try {
      const ids = await fiveDone(p);
      await leaveFailing(p, archive, ids, 1);
      expect(ids.some((id) => archive.get(id) !== undefined)).toBe(false);
      await p.compact();
      expect(archive.attempts).toBe(2);
      expect(ids.every((id) => archive.get(id)?.state === 'done')).toBe(true);
      expect(storage.stats().snapshotBytes).toBeGreaterThan(0);
      // Written once: a later compaction writes nothing again.
      await p.compact();
      expect(archive.attempts).toBe(2);
    } finally {
      await p.stop();
    }
  });

  it('written again keeps a newer record of a task archived since', async () => {
    const archive = new FlakyArchive();
    const p = makePeer(new MemoryStorage(new MemoryDisk()), archive, 1);
    await p.start();
    try {
      const ids = await fiveDone(p);
      await leaveFailing(p, archive, ids, 1);
      // The first task was archived again meanwhile (written back, ended again): a newer record.
      const newer: ArchiveRecord = { id: ids[0]!, state: 'failed', finishedAt: 9, result: 'newer', peer: 'pb', attempts: 2, gen: 'g', archivedAt: Date.now() + 60_000, spec: { id: ids[0] }, facts: {} };
      await archive.append([newer]);
      await p.compact();
      expect(archive.get(ids[0]!)).toMatchObject({ state: 'failed', result: 'newer' });
      for (const id of ids.slice(1)) expect(archive.get(id)).toMatchObject({ state: 'done' });
    } finally {
      await p.stop();
    }
  });

  it('that fails again refuses the compaction and keeps the log, so a restart archives the tasks', async () => {
    const disk = new MemoryDisk();
    const archive = new FlakyArchive();
    const storage = new MemoryStorage(disk);
    const p = makePeer(storage, archive, 1);
    await p.start();
    const ids = await fiveDone(p);
    await leaveFailing(p, archive, ids, 2);
    await p.flush();
    const logBefore = storage.stats().logRecords;
    await expect(p.compact()).rejects.toMatchObject({ code: 'ARCHIVE_FAILED' });
    expect(storage.stats().snapshotBytes).toBe(0);
    expect(storage.stats().logRecords).toBe(logBefore);
    p.crash();
    disk.crash();
    const archive2 = new MemoryArchive();
    const again = makePeer(new MemoryStorage(disk), archive2, 2);
    await again.start();
    try {
      await until(() => ids.every((id) => archive2.get(id) !== undefined), 5000, 'the tasks of the failed write to be archived from the log');
      for (const id of ids) expect(archive2.get(id)).toMatchObject({ state: 'done' });
    } finally {
      await again.stop();
    }
  });

  it('makes a compaction the peer starts on its own fail with a warning, not the flush or the submit', async () => {
    const warnings: string[] = [];
    const logger: Logger = { log: (level, msg) => level === 'warn' && warnings.push(msg) };
    const archive = new FlakyArchive();
    const storage = new MemoryStorage(new MemoryDisk());
    const p = makePeer(storage, archive, 1, 1_000_000, logger);
    await p.start();
    try {
      const ids = await fiveDone(p);
      await leaveFailing(p, archive, ids, 1_000);
      // From here every flush with a log this long would compact.
      (p as unknown as { timing: { compactEveryRecords: number } }).timing.compactEveryRecords = 1;
      const more = await p.submit([{ type: 'echo', payload: 'after' }]);
      expect(more).toHaveLength(1);
      await p.flush();
      await until(() => warnings.some((w) => /log compaction failed/.test(w)), 5000, 'the warning');
      expect(storage.stats().snapshotBytes).toBe(0);
    } finally {
      // The archive still fails: the stop is not refused, and says what it left.
      await p.stop();
    }
    expect(warnings.some((w) => /stopping with archive writes not made/.test(w))).toBe(true);
  });

  it('holds back a new generation until the failed writes are made (a restart replays only the newest generation)', async () => {
    const archive = new FlakyArchive();
    const p = new Peer({
      id: 'pa', name: 'PA', capacity: 100, agents: { echo: (x) => x }, transport: new MemoryHub().join('pa'), storage: new MemoryStorage(new MemoryDisk()), archive, clock: systemClock, seed: 1,
      timing: { ...FAST_TIMING, compactEveryRecords: 1_000_000 },
      rollover: { retentionMs: 60_000, maxFinished: 5, maxTombstones: 4, forgetPeersAfterMs: 1000, checkMs: 50, staggerMs: 100 },
    });
    const generations: string[] = [];
    p.on('generation', (e) => generations.push(e.name));
    await p.start();
    try {
      archive.failures = 1_000;
      // One task per submit: a task batch leaves the live document only with all its tasks.
      for (let i = 0; i < 25; i++) await p.submit([{ type: 'echo', payload: i }]);
      await until(() => archive.attempts >= 1, 5000, 'an archive write');
      await new Promise((r) => setTimeout(r, 600));
      expect(generations).toEqual([]);
      archive.failures = 0;
      await p.compact();
      await until(() => generations.length > 0, 5000, 'a generation once the writes are made');
    } finally {
      await p.stop();
    }
  });

  it('moving to a generation another peer started writes the unmade tasks back, so a restart still archives them', async () => {
    const hub = new MemoryHub();
    const rollover = { retentionMs: 60_000, maxFinished: 5, maxTombstones: 4, forgetPeersAfterMs: 1000, checkMs: 50, staggerMs: 100 };
    const diskA = new MemoryDisk();
    const flaky = new FlakyArchive();
    const make = (id: string, storage: Storage, archive: Archive, seed: number) =>
      new Peer({ id, name: id.toUpperCase(), capacity: 100, agents: { echo: (x) => x }, transport: hub.join(id), storage, archive, clock: systemClock, seed, timing: { ...FAST_TIMING, compactEveryRecords: 1_000_000 }, rollover });
    const a = make('pa', new MemoryStorage(diskA), flaky, 1);
    const b = make('pb', new MemoryStorage(new MemoryDisk()), new MemoryArchive(), 2);
    const genA: string[] = [];
    a.on('generation', (e) => genA.push(e.name));
    await Promise.all([a.start(), b.start()]);
    flaky.failures = 1_000_000;
    const ids: string[] = [];
    try {
      for (let i = 0; i < 25; i++) ids.push(...(await b.submit([{ type: 'echo', payload: i }])).map((s) => s.id));
      // A's archive writes fail; B starts a generation (A's own are held back) and A moves to it.
      await until(() => genA.length > 0, 10_000, 'A to move to the generation B started');
      expect(flaky.attempts).toBeGreaterThan(0);
    } finally {
      a.crash();
      diskA.crash();
      await b.stop();
    }
    const archivedA = ids.filter((id) => flaky.get(id) !== undefined);
    expect(archivedA).toEqual([]);
    // A restarts from its disk with a working archive: every task ends up archived there.
    flaky.failures = 0;
    const again = make('pa', new MemoryStorage(diskA), flaky, 3);
    await again.start();
    try {
      await until(() => ids.every((id) => flaky.get(id) !== undefined || again.view(id) !== undefined), 10_000, 'every task held again on A (archived or live)');
    } finally {
      await again.stop();
    }
  });
});
