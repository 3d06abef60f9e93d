// Bounded document: finished tasks leave the live document for each peer's archive at a new
// document generation; peers converge on it, nothing is lost, archived tasks stay readable, and a
// peer that was away during the change catches up.
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

const ROLLOVER = { retentionMs: 60_000, maxFinished: 5, maxTombstones: 4, forgetPeersAfterMs: 1000, checkMs: 50, staggerMs: 100 };

function mesh(n: number, hub = new MemoryHub()) {
  return Array.from({ length: n }, (_, i) => {
    const disk = new MemoryDisk();
    const archive = new MemoryArchive();
    const make = (seed = i + 1) =>
      new Peer({ id: `p${i}`, name: `P${i}`, capacity: 1000, agents: { echo: echoAgent }, transport: hub.join(`p${i}`), storage: new MemoryStorage(disk), clock: systemClock, seed, timing: FAST_TIMING, archive, rollover: ROLLOVER });
    return { make, archive, disk };
  });
}

describe('document generations', () => {
  it('archives finished tasks, keeps the live document small, and every task stays readable', async () => {
    const peers = mesh(3).map((m) => m.make());
    const t0 = Date.now();
    const trace: string[] = [];
    for (const p of peers) {
      p.on('run-start', (e) => trace.push(`${Date.now() - t0} ${p.name} run ${e.id} r${e.round} g${p.generation.n}`));
      p.on('generation', (e) => trace.push(`${Date.now() - t0} ${p.name} GEN ${e.name} archived ${e.archived}`));
    }
    await Promise.all(peers.map((p) => p.start()));
    try {
      const ids: string[] = [];
      for (let b = 0; b < 4; b++) {
        const specs = await peers[b % 3]!.submit(Array.from({ length: 25 }, (_, i) => ({ type: 'echo', payload: { b, i } })));
        ids.push(...specs.map((s) => s.id));
        await until(() => peers.every((p) => p.status().tasks.done >= ids.length), 15_000);
      }
      await until(() => peers.every((p) => p.generation.n >= 1 && p.status().tasks.done === 100), 15_000);
      // converge on one generation with the same document
      await until(() => {
        const names = new Set(peers.map((p) => p.status().generation.name));
        return names.size === 1;
      }, 10_000);
      await Promise.all(peers.map((p) => p.settled()));
      for (const p of peers) {
        expect(p.status().tasks.done).toBe(100);
        expect(p.archive.counts().total).toBeGreaterThanOrEqual(20);
        expect(p.document.board.taskCount).toBeLessThan(100);
        // every task readable, live or archived, with its result
        for (const [k, id] of ids.entries()) {
          const v = p.view(id) ?? p.archivedView(id);
          expect(v?.state, id).toBe('done');
          expect(v?.result?.result).toEqual({ b: Math.floor(k / 25), i: k % 25 });
        }
      }
      const sizes = peers.map((p) => Y.encodeStateAsUpdate(p.document.doc).byteLength);
      expect(Math.max(...sizes)).toBeLessThan(40_000);
      // no task ran twice across the generation changes (the trace says when, if one did)
      expect(peers.reduce((n, p) => n + p.counters.done, 0), trace.join('\n')).toBe(100);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  }, 60_000);

  it('a peer that was down during a generation change converges on it with nothing lost', async () => {
    const hub = new MemoryHub();
    const ms = mesh(3, hub);
    const peers = ms.map((m) => m.make());
    await Promise.all(peers.map((p) => p.start()));
    const ids: string[] = [];
    ids.push(...(await peers[2]!.submit(Array.from({ length: 10 }, (_, i) => ({ type: 'echo', payload: { i } })))).map((s) => s.id));
    await until(() => peers.every((p) => p.status().tasks.done === 10));
    // p2 goes away (crash) after writing tasks only it has seen
    peers[2]!.setQuiet(true);
    peers[2]!.crash();
    ms[2]!.disk.crash();
    for (let b = 0; b < 3; b++) {
      ids.push(...(await peers[b % 2]!.submit(Array.from({ length: 20 }, (_, i) => ({ type: 'echo', payload: { b, i } })))).map((s) => s.id));
      await until(() => peers.slice(0, 2).every((p) => p.status().tasks.done === ids.length), 15_000);
    }
    await until(() => peers.slice(0, 2).every((p) => p.generation.n >= 1), 15_000);
    // p2 comes back from its disk, on generation 0, and moves to the mesh's generation
    const back = ms[2]!.make(99);
    peers[2] = back;
    await back.start();
    expect(back.generation.n).toBe(0);
    const extra = await back.submit([{ type: 'echo', payload: { late: true } }]);
    ids.push(extra[0]!.id);
    await until(() => peers.every((p) => p.generation.n >= 1) && new Set(peers.map((p) => p.status().generation.name)).size === 1, 15_000);
    // What p2 saw (its own tasks, the late one) is done everywhere; what finished and was archived
    // while it was away is in the archives of the peers that saw it (archives are per peer).
    const seenByAll = [...ids.slice(0, 10), extra[0]!.id];
    const doneOn = (p: Peer, id: string) => (p.view(id) ?? p.archivedView(id))?.state === 'done';
    await until(() => peers.every((p) => seenByAll.every((id) => doneOn(p, id))), 15_000);
    for (const p of peers.slice(0, 2)) for (const id of ids) expect(doneOn(p, id), id).toBe(true);
    // the live documents converge
    await until(() => {
      const sv = peers.map((p) => [...p.document.board.taskIds()].sort().join());
      return sv[0] === sv[1] && sv[1] === sv[2];
    }, 10_000);
    await Promise.all(peers.map((p) => p.stop()));
  }, 60_000);
});
