// A generation whose base still holds tasks this peer has archived (the base's starter had not
// seen them leave): the mover does not delete them right after its move. Another mover may have
// carried the same entries into the generation as items this one has not received, and deleting
// the items it holds would leave theirs: a task's spec without its facts, which runs again (the
// simulator's seed 34, docs/performance.md, "2026-12-06, early morning"). The tasks get their
// archived facts, stay live, and leave by archival (its stability check), with the outcome they had.
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { GENESIS, MemoryArchive, MemoryDisk, MemoryStorage, TaskBoard, encodeGeneration, type Generation } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, SYNC_STEP2, encodeSyncMessage, systemClock } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

// Finished tasks stay live 3 s (time to copy them into the base), then leave by archival; no
// generation starts by itself (the tombstone bar is out of reach).
const ROLLOVER = { retentionMs: 3000, maxFinished: 1000, maxTombstones: 1_000_000, forgetPeersAfterMs: 30_000, checkMs: 50, staggerMs: 100 };

/** A starter's base of generation `g` built from a snapshot of the old document, as Generations.enter builds one. */
function baseFrom(snapshot: Uint8Array, g: Generation): Uint8Array {
  const oldDoc = new Y.Doc();
  const old = new TaskBoard(oldDoc, { now: () => Date.now() });
  Y.applyUpdate(oldDoc, snapshot);
  const doc = new Y.Doc();
  const board = new TaskBoard(doc, { now: () => Date.now() });
  board.setLineage([...old.lineage(), encodeGeneration(GENESIS)]);
  old.copyInto(board, new Set());
  board.markGeneration(g);
  return Y.encodeStateAsUpdate(doc);
}

describe('a base that still holds tasks this peer archived', () => {
  it('keeps them live with their archived outcome until archival takes them again; none runs twice', async () => {
    const hub = new MemoryHub();
    const peers = [0, 1].map((i) => new Peer({ id: `p${i}`, name: `P${i}`, capacity: 1000, agents: { echo: echoAgent }, transport: hub.join(`p${i}`), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i + 1, timing: FAST_TIMING, archive: new MemoryArchive(), rollover: ROLLOVER }));
    const [p0, p1] = peers as [Peer, Peer];
    const starts = new Map<string, number>();
    for (const p of peers) p.on('run-start', (e) => starts.set(e.id, (starts.get(e.id) ?? 0) + 1));
    await Promise.all(peers.map((p) => p.start()));
    try {
      const ids = (await p0.submit([0, 1, 2].map((i) => ({ type: 'echo', payload: { i } })))).map((s) => s.id);
      await until(() => peers.every((p) => ids.every((id) => p.view(id)?.state === 'done')), 10_000, 'the tasks done everywhere');
      // The base's starter saw the tasks done, not their leaving.
      const snapshot = Y.encodeStateAsUpdate(p1.document.doc);
      await until(() => peers.every((p) => ids.every((id) => p.archived(id) !== undefined && p.taskSpec(id) === undefined)), 10_000, 'the tasks archived everywhere');
      for (const id of ids) expect(p0.archived(id)?.partial).toBeUndefined();

      const g: Generation = { n: 1, at: Date.now(), keep: 3, by: 'p1' };
      const atMove: { id: string; spec: boolean; state: string | undefined; result: unknown }[] = [];
      p0.on('generation', () => {
        for (const id of ids) atMove.push({ id, spec: p0.taskSpec(id) !== undefined, state: p0.view(id)?.state, result: p0.view(id)?.result?.result });
      });
      hub.deliver('p1', 'p0', encodeSyncMessage(SYNC_STEP2, baseFrom(snapshot, g), encodeGeneration(g)));
      await until(() => p0.generation.n === 1, 5000, 'p0 on the new generation');

      // Right after the move: live again, ended as it ended (no deletion that skips the stability check).
      expect(atMove).toEqual(ids.map((id, i) => ({ id, spec: true, state: 'done', result: { i } })));
      // Then p1 moves too, and archival takes them again on both, with the same outcome.
      await until(() => peers.every((p) => p.generation.n === 1 && ids.every((id) => p.taskSpec(id) === undefined && p.archived(id) !== undefined)), 15_000, 'the tasks archived again in generation 1');
      for (const p of peers) {
        // Archived twice, counted once.
        expect(p.status().tasks.done, p.name).toBe(3);
        for (const [i, id] of ids.entries()) {
          const v = p.archivedView(id);
          expect(v?.state, `${p.name} ${id}`).toBe('done');
          expect(v?.result?.result).toEqual({ i });
        }
      }
      for (const id of ids) expect(starts.get(id), id).toBe(1);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  }, 40_000);
});
