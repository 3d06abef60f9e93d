// Archival deletes what is due in slices: a look that finds thousands of finished tasks due must
// not delete them in one transaction (one turn of the main loop, and of every replica taking the
// deletion in, stalled for over a second under load: p99 latency of seconds). Each deletion takes
// whole units (a task batch with all its tasks) up to ARCHIVE_SLICE_TASKS tasks, the slices of one
// look are spread over most of the time to the next look (not back to back: every replica takes
// each one in), and everything due still leaves the live document, into the archive, with its result.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { ARCHIVE_SLICE_GAP_MS, ARCHIVE_SLICE_TASKS, ARCHIVE_SPREAD, LOOK_PIECE_TASKS, lookPiece, sliceGap } from '../src/peer/archive-pacing.js';
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
      const removedAt: number[] = [];
      let before = peer.document.board.taskCount;
      peer.document.doc.on('afterTransaction', () => {
        const now = peer.document.board.taskCount;
        if (now < before) {
          removedPerTransaction.push(before - now);
          removedAt.push(Date.now());
        }
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
      // Spread: a look that found all 1,200 due waits sliceGap between slices (a look that found
      // fewer waits longer; back to back they were ARCHIVE_SLICE_GAP_MS apart). Each pause counts
      // from the start of the turn that deleted, a deletion lands later in its turn: a quarter off.
      // The first slice goes at the end of the turn that examines the look's last piece, so the gap
      // after it is shorter by that work (which a busy machine stretches) and is not compared.
      const least = 0.75 * sliceGap([ids], 5000);
      expect(least).toBeGreaterThan(5 * ARCHIVE_SLICE_GAP_MS);
      expect(removedAt.length).toBeGreaterThan(2);
      const gaps = removedAt.slice(1).map((t, j) => t - removedAt[j]!);
      for (const g of gaps.slice(1)) expect(g, `gaps ${gaps.join(', ')}`).toBeGreaterThanOrEqual(least);
      for (const [k, id] of ids.entries()) expect(archive.get(id)?.result, id).toEqual({ b: Math.floor(k / 100), i: k % 100 });
    } finally {
      await peer.stop();
    }
  }, 60_000);
});

describe('lookPiece', () => {
  const found = (sizes: number[]): [string, string[]][] => sizes.map((n, u) => [`u${u}`, Array.from({ length: n }, (_, i) => `t${u}.${i}`)]);
  it('takes whole units until they hold LOOK_PIECE_TASKS tasks, each unit once, in order', () => {
    const units = found(Array.from({ length: 40 }, (_, u) => 30 + (u % 7) * 20));
    const seen: string[] = [];
    for (let from = 0; from < units.length; ) {
      const piece = lookPiece(units, from);
      const tasks = piece.reduce((n, [, ids]) => n + ids.length, 0);
      // Under the bound without its last unit: it stops at the first unit that reaches it.
      expect(tasks - piece[piece.length - 1]![1].length).toBeLessThan(LOOK_PIECE_TASKS);
      if (from + piece.length < units.length) expect(tasks).toBeGreaterThanOrEqual(LOOK_PIECE_TASKS);
      seen.push(...piece.map(([key]) => key));
      from += piece.length;
    }
    expect(seen).toEqual(units.map(([key]) => key));
  });
  it('takes a unit larger than a piece alone, and nothing past the end', () => {
    const units = found([LOOK_PIECE_TASKS * 3, 5]);
    expect(lookPiece(units, 0).map(([key]) => key)).toEqual(['u0']);
    expect(lookPiece(units, 1).map(([key]) => key)).toEqual(['u1']);
    expect(lookPiece(units, 2)).toEqual([]);
  });
});

describe('sliceGap', () => {
  const units = (n: number, size: number): string[][] => Array.from({ length: n }, (_, u) => Array.from({ length: size }, (_, i) => `t${u}.${i}`));
  it('spreads the slices of a look over ARCHIVE_SPREAD of the time to the next look', () => {
    const due = units(20, ARCHIVE_SLICE_TASKS);
    expect(sliceGap(due, 1000)).toBe(Math.floor((ARCHIVE_SPREAD * 1000) / 20));
    expect(sliceGap(due, 1000) * 20).toBeLessThanOrEqual(1000);
  });
  it('never pauses less than ARCHIVE_SLICE_GAP_MS, and a single slice waits for nothing else', () => {
    expect(sliceGap(units(10_000, 1), 1000)).toBe(ARCHIVE_SLICE_GAP_MS);
    expect(sliceGap(units(1, 5), 1000)).toBe(ARCHIVE_SLICE_GAP_MS);
    expect(sliceGap([], 1000)).toBe(ARCHIVE_SLICE_GAP_MS);
  });
});
