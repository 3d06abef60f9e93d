// A replica that missed the deletion (archival) of finished tasks before a generation change does
// not bring them back into the live document: the starter's state vector at the cut, in the new
// document, says it had seen them whole, so they left there. The replica deletes them right after
// its move (its archive takes them as at any deletion), and no replica restores anything. When the
// starter had archived without waiting for some peer, it writes no such vector (that peer may lack
// facts the archived records hold), and the tasks come back into the live document, as before.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock, type Transport, type TransportHandlers } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

/** A transport that drops what arrives while `deaf` is set, and what it sends while `mute` is set. */
function filtered(inner: Transport): Transport & { deaf: boolean; mute: boolean } {
  const t = {
    deaf: false,
    mute: false,
    get localId() {
      return inner.localId;
    },
    connectedPeers: () => inner.connectedPeers(),
    send: (to: string, data: Uint8Array) => (t.mute ? undefined : inner.send(to, data)),
    setHandlers: (h: TransportHandlers) =>
      inner.setHandlers({ ...h, message: (from, data) => (t.deaf ? undefined : h.message(from, data)), receiving: undefined }),
  };
  return t;
}

/** p0 and p1 run echo tasks and archive finished ones at once; p2 runs nothing and never archives on its own. */
function mesh(forgetPeersAfterMs: number) {
  const hub = new MemoryHub();
  return Array.from({ length: 3 }, (_, i) => {
    const transport = filtered(hub.join(`p${i}`));
    const rollover = { retentionMs: 60_000, maxFinished: i < 2 ? 2 : 1_000_000, maxTombstones: 2, forgetPeersAfterMs, checkMs: 50, staggerMs: 100 };
    const agents = i < 2 ? { echo: echoAgent } : {};
    const peer = new Peer({ id: `p${i}`, name: `P${i}`, capacity: 1000, agents, transport, storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i + 1, timing: FAST_TIMING, archive: new MemoryArchive(), rollover });
    return { peer, transport };
  });
}

/**
 * p2, mute (the others wait for it to hold the tasks before they archive them), takes in 14 tasks
 * run to the end by the others (a batch of 10, 4 single submits); then it is deaf while the others
 * archive them and start generation 1 (mute as well when `silent`: the others stop waiting for it).
 */
async function lagBehindOneGeneration(ms: ReturnType<typeof mesh>, silent: boolean): Promise<{ ids: string[]; archivedThere: string[] }> {
  const peers = ms.map((m) => m.peer);
  const p2 = ms[2]!;
  p2.transport.mute = true;
  const ids = (await peers[0]!.submit(Array.from({ length: 10 }, (_, i) => ({ type: 'echo', payload: { i } })))).map((s) => s.id);
  for (let i = 0; i < 4; i++) ids.push((await peers[i % 2]!.submit([{ type: 'echo', payload: { single: i } }]))[0]!.id);
  await until(() => peers.every((p) => p.status().tasks.done === ids.length), 15_000).catch((e: Error) => { throw new Error(`${e.message}: ${(() => `done: ${peers.map((p) => JSON.stringify(p.status().tasks)).join(' ')}`)()}`); });
  p2.transport.deaf = true;
  p2.transport.mute = silent;
  await until(() => peers.slice(0, 2).every((p) => p.generation.n === 1), 15_000).catch((e: Error) => { throw new Error(`${e.message}: ${(() => `generations ${peers.map((p) => p.generation.n)}, live ${peers.map((p) => p.document.board.taskCount)}, tombstones ${peers.map((p) => (p as unknown as { archiver: { tombstones: number } }).archiver.tombstones)}, entries ${peers.map((p) => p.document.board.entryCount())}`)()}`); });
  const archivedThere = ids.filter((id) => !peers[0]!.document.board.getSpec(id));
  expect(archivedThere.length).toBeGreaterThan(0);
  expect(peers[2]!.generation.n).toBe(0);
  expect(ids.every((id) => peers[2]!.document.board.getSpec(id)), 'p2 still holds every task live').toBe(true);
  p2.transport.deaf = false;
  p2.transport.mute = false;
  return { ids, archivedThere };
}

describe('a lagging replica at a generation change', () => {
  it('deletes the tasks the starter had archived instead of bringing them back; nothing is restored, nothing lost, nothing run again', async () => {
    const ms = mesh(60_000);
    const peers = ms.map((m) => m.peer);
    await Promise.all(peers.map((p) => p.start()));
    try {
      const ran = () => peers.map((p) => p.counters.done);
      const { ids, archivedThere } = await lagBehindOneGeneration(ms, false);
      const ranBefore = ran();
      await until(() => peers[2]!.generation.n === 1, 15_000);
      await Promise.all(peers.map((p) => p.settled()));
      await until(() => {
        const live = peers.map((p) => [...p.document.board.taskIds()].sort().join());
        return live[0] === live[1] && live[1] === live[2];
      }, 10_000);
      for (const id of archivedThere) expect(peers[2]!.document.board.getSpec(id), id).toBeUndefined();
      expect(peers.map((p) => p.counters.restores)).toEqual([0, 0, 0]);
      // p2's archive holds what left before the cut, done (its own deletion after the move put it there).
      await until(() => archivedThere.every((id) => peers[2]!.archive.get(id)?.state === 'done'), 10_000);
      for (const p of peers) for (const id of ids) expect((p.view(id) ?? p.archivedView(id))?.state, `${p.name} ${id}`).toBe('done');
      expect(ran()).toEqual(ranBefore);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  }, 60_000);

  it('after archival that did not wait for every peer, the starter writes no vector: the tasks come back, and every task ends done everywhere, as before', async () => {
    const ms = mesh(300);
    const peers = ms.map((m) => m.peer);
    await Promise.all(peers.map((p) => p.start()));
    try {
      const board = peers[0]!.document.board;
      const { ids } = await lagBehindOneGeneration(ms, true);
      expect(board === peers[0]!.document.board).toBe(false);
      const mine = peers[0]!.document.board;
      expect(mine.seenAtCut(mine.lineage().at(-1)!)).toBeUndefined();
      await until(() => peers[2]!.generation.n === 1, 15_000);
      await Promise.all(peers.map((p) => p.settled()));
      for (const p of peers) await until(() => ids.every((id) => (p.view(id) ?? p.archivedView(id))?.state === 'done'), 10_000);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  }, 60_000);
});
