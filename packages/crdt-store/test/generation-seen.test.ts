// A generation's starter writes what it had seen of the old document when it cut (its state
// vector), and a replica that moves later finds the tasks the new document lacks though the
// starter had seen every entry of them (they left there: archived; the peer deletes them after its
// move). Not one the starter had not seen whole; a value in meta that is not a state vector is none.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ROOT, TaskBoard, encodeGeneration } from '../src/index.js';
import type { TaskSpec } from '@agentmesh/scheduler';

const spec = (id: string): TaskSpec => ({
  id, type: 'echo', payload: { x: 1 }, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 1, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted',
});

const G0 = encodeGeneration({ n: 1, at: 5, keep: 0, by: 'p1' });

const board = (doc = new Y.Doc()) => new TaskBoard(doc, { now: () => 1 });

/** A starter and a lagging replica of generation `g0`, in sync until the lagger stops hearing. */
function setup() {
  const s = board();
  const l = board();
  for (const id of ['t1', 't2', 't3']) {
    s.putTask(spec(id));
    s.putClaim(id, { peer: 'p1', round: 1, score: 1, at: 2 });
    s.putDone(id, { peer: 'p1', round: 1, result: id, at: 3, ms: 1 });
  }
  Y.applyUpdate(l.doc, Y.encodeStateAsUpdate(s.doc));
  // From here the lagger misses what the starter does, and the starter what the lagger does.
  l.putRetry('t2', { by: 'p2', round: 2, at: 4 }); // an entry of t2 the starter never sees
  l.putTask(spec('t4')); // a task the starter never sees
  s.deleteTasks(new Set(['t1', 't2'])); // archived at the starter
  // The starter's cut: generation g1, its lineage, and what it had seen of g0.
  const next = board();
  s.copyInto(next, new Set());
  next.setLineage([G0], Y.encodeStateVector(s.doc));
  // The lagger moves: a fresh document with the base, then its own copy.
  const mine = board();
  Y.applyUpdate(mine.doc, Y.encodeStateAsUpdate(next.doc));
  return { s, l, next, mine };
}

describe('what a generation starter had seen at the cut', () => {
  it('names the tasks a replica missed the deletion of; not one with an entry the starter never saw, nor a task it never saw', () => {
    const { l, mine } = setup();
    const seen = mine.seenAtCut(G0);
    expect(seen).toBeInstanceOf(Map);
    expect(mine.seenAtCut('other')).toBeUndefined();
    expect(l.leftBefore(mine, G0)).toEqual(['t1']);
    expect(l.leftBefore(mine, 'another-name')).toEqual([]);
    // The copy itself is unchanged: everything the base lacks is carried (the peer deletes `left` after its move).
    expect(l.copyInto(mine, new Set())).toEqual([]);
    expect([...mine.taskIds()].sort()).toEqual(['t1', 't2', 't3', 't4']);
    // Once some peer of the new generation archived without waiting for every peer, none.
    expect(mine.partial()).toBe(false);
    mine.markPartial();
    expect(mine.partial()).toBe(true);
    expect(l.leftBefore(mine, G0)).toEqual([]);
  });

  it('a value in meta that is not a state vector (a hostile peer, garbage, too large) reads as none', () => {
    const b = board();
    for (const bad of ['not bytes', new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]), new Uint8Array(65 * 1024)]) {
      b.doc.getMap(ROOT.meta).set(`seen:${G0}`, bad);
      expect(b.seenAtCut(G0)).toBeUndefined();
      expect(board().leftBefore(b, G0)).toEqual([]);
    }
  });
});
