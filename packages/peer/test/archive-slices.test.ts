// Archival deletes what is due in slices: a look that finds thousands of finished tasks due must
// not delete them in one transaction (one turn of the main loop, and of every replica taking the
// deletion in, stalled for over a second under load: p99 latency of seconds). Each deletion takes
// whole units (a task batch with all its tasks) up to ARCHIVE_SLICE_TASKS tasks, and everything due
// still leaves the live document, into the archive, with its result.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { ARCHIVE_SLICE_TASKS } from '../src/peer/archiver.js';
import { FAST_TIMING, until } from './helpers.js';

describe('archival in slices', () => {
  it('deletes at most one slice of whole batches per transaction, and archives everything due', async () => {
    const archive = new MemoryArchive();
    const peer = new Peer({
      id: 'p0', name: 'P0', capacity: 10_000, agents: { echo: echoAgent }, transport: new MemoryHub().join('p0'),
      storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: 1, timing: FAST_TIMING, archive,
      // Nothing finished is kept; the look runs every 5 s, so the slices between looks do the work.
      rollover: { retentionMs: 60_000, maxFinished: 0, maxTombstones: 1_000_000, forgetPeersAfterMs: 1000, checkMs: 5000, staggerMs: 100 },
    });
    await peer.start();
    try {
      // Every transaction that removes tasks from the board removes whole batches, one slice at most.
      const removedPerTransaction: number[] = [];
      let before = peer.document.board.taskCount;
      peer.document.doc.on('afterTransaction', () => {
        const now = peer.document.board.taskCount;
        if (now < before) removedPerTransaction.push(before - now);
        before = now;
      });
      // Submitted while the peer is paused (no runs, no archival): 12 batches of 100 tasks are on
      // the board before the first run and the first look.
      peer.setQuiet(true);
      const ids: string[] = [];
      for (let b = 0; b < 12; b++) ids.push(...(await peer.submit(Array.from({ length: 100 }, (_, i) => ({ type: 'echo', payload: { b, i } })))).map((s) => s.id));
      peer.setQuiet(false);
      await until(() => peer.status().tasks.done === 1200, 20_000);
      await until(() => archive.counts().total === 1200, 20_000);
      expect(peer.document.board.taskCount).toBe(0);
      expect(removedPerTransaction.length).toBeGreaterThan(1);
      for (const n of removedPerTransaction) {
        expect(n % 100, `removed ${removedPerTransaction.join(', ')}`).toBe(0);
        expect(n).toBeLessThan(ARCHIVE_SLICE_TASKS + 100);
      }
      expect(removedPerTransaction.reduce((a, b) => a + b, 0)).toBe(1200);
      for (const [k, id] of ids.entries()) expect(archive.get(id)?.result, id).toEqual({ b: Math.floor(k / 100), i: k % 100 });
    } finally {
      await peer.stop();
    }
  }, 60_000);
});
