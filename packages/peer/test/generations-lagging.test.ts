// A replica that missed the deletion (archival) of finished tasks before a generation change does
// not carry them into the new generation: the starter's state vector at the cut, in the new
// document, says it had seen them, so they left there. The replica archives them itself, and no
// other replica has to find them back in the live document and restore them from its archive.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

const ROLLOVER = { retentionMs: 60_000, maxFinished: 2, maxTombstones: 4, forgetPeersAfterMs: 1000, checkMs: 50, staggerMs: 100 };

function mesh(n: number, hub = new MemoryHub()) {
  return Array.from({ length: n }, (_, i) => {
    const disk = new MemoryDisk();
    const archive = new MemoryArchive();
    const make = (seed = i + 1) =>
      new Peer({ id: `p${i}`, name: `P${i}`, capacity: 1000, agents: { echo: echoAgent }, transport: hub.join(`p${i}`), storage: new MemoryStorage(disk), clock: systemClock, seed, timing: FAST_TIMING, archive, rollover: ROLLOVER });
    return { make, archive, disk };
  });
}

describe('a lagging replica at a generation change', () => {
  it('archives the tasks the starter had archived instead of carrying them back; nothing is restored, nothing lost', async () => {
    const ms = mesh(3);
    const peers = ms.map((m) => m.make());
    await Promise.all(peers.map((p) => p.start()));
    try {
      // Tasks every replica sees done (one batch, and single submits).
      const ids = (await peers[2]!.submit(Array.from({ length: 10 }, (_, i) => ({ type: 'echo', payload: { i } })))).map((s) => s.id);
      for (let i = 0; i < 4; i++) ids.push((await peers[i % 3]!.submit([{ type: 'echo', payload: { single: i } }]))[0]!.id);
      await until(() => peers.every((p) => p.status().tasks.done === ids.length), 15_000);
      await Promise.all(peers.map((p) => p.flush()));
      const ranBefore = peers[0]!.counters.done + peers[1]!.counters.done;
      // p2 goes away holding them live; the others archive them and start one new generation.
      peers[2]!.setQuiet(true);
      peers[2]!.crash();
      ms[2]!.disk.crash();
      await until(() => peers.slice(0, 2).every((p) => p.generation.n === 1), 15_000);
      const archivedThere = ids.filter((id) => !peers[0]!.document.board.getSpec(id));
      expect(archivedThere.length).toBeGreaterThan(0);
      expect(ids.every((id) => peers[2]!.document.board.getSpec(id))).toBe(true); // p2's replica still holds them all
      // p2 comes back from its disk on generation 0 and moves to generation 1.
      const back = ms[2]!.make(99);
      peers[2] = back;
      await back.start();
      await until(() => peers.every((p) => p.generation.n === 1), 15_000);
      await Promise.all(peers.map((p) => p.settled()));
      // Nothing carried back: no replica restored a task; the live documents agree.
      await until(() => {
        const live = peers.map((p) => [...p.document.board.taskIds()].sort().join());
        return live[0] === live[1] && live[1] === live[2];
      }, 10_000);
      expect(peers.map((p) => p.counters.restores)).toEqual([0, 0, 0]);
      for (const id of archivedThere) expect(back.document.board.getSpec(id), id).toBeUndefined();
      // ... and nothing lost: p2's own archive now holds what left before the cut, done, with its result.
      for (const id of archivedThere) {
        const a = back.archive.get(id);
        expect(a?.state, id).toBe('done');
      }
      for (const p of peers) for (const id of ids) expect((p.view(id) ?? p.archivedView(id))?.state, `${p.name} ${id}`).toBe('done');
      // Nothing ran again: not on the others, not on the restarted p2.
      expect(peers[0]!.counters.done + peers[1]!.counters.done).toBe(ranBefore);
      expect(back.counters.done).toBe(0);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  }, 60_000);
});
