// A document is oversize (and a new generation due) only by a measure of its encoded size, not by
// the running count of update bytes, which overstates a document whose entries are overwritten
// (a 30-peer mesh counted past 4 MiB in seconds with a 2.6 MB document, and every peer then fetched
// and checked a whole new generation under load). A document measured over its budget still
// starts one.
import { describe, expect, it } from 'vitest';
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock, type Clock } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

const MAX = 20_000;
const ROLLOVER = { retentionMs: 60_000, maxFinished: 10_000, maxTombstones: 1e9, forgetPeersAfterMs: 1000, checkMs: 50, staggerMs: 100, maxDocBytes: MAX };

describe('rollover by measured size', () => {
  it('overwrites past the budget start no generation; a document measured over it does', async () => {
    let offset = 0;
    // The system clock, moved forward on demand (the rules wait 60 s of generation age, 30 s between measures).
    const clock: Clock = { now: () => systemClock.now() + offset, setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
    const hub = new MemoryHub();
    const p = new Peer({ id: 'pa', name: 'PA', capacity: 10, agents: { echo: echoAgent }, transport: hub.join('pa'), storage: new MemoryStorage(new MemoryDisk()), clock, seed: 1, timing: FAST_TIMING, rollover: ROLLOVER });
    await p.start();
    try {
      const big = 'x'.repeat(500);
      const overwrite = (n: number) => {
        for (let i = 0; i < n; i++) p.document.board.writeData('ns', 'same', { big, i }, p.id, clock.now());
      };
      offset += 61_000;
      // Past the budget by the count: the first check measures (small), then more overwrites push
      // the count past it again before the next measure is allowed.
      overwrite(100);
      await new Promise((r) => setTimeout(r, 300));
      overwrite(100);
      await new Promise((r) => setTimeout(r, 500));
      expect((p as unknown as { generations: { bytes: number } }).generations.bytes).toBeGreaterThan(MAX);
      expect(p.generation.n).toBe(0);
      // Now a document that is over the budget: 60 distinct entries of 500 bytes.
      for (let i = 0; i < 60; i++) p.document.board.writeData('ns', `k${i}`, { big }, p.id, clock.now());
      offset += 31_000;
      await until(() => p.generation.n >= 1, 5000);
    } finally {
      await p.stop();
    }
  }, 30_000);
});
