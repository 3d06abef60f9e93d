// A generation's starter writes what it had seen of the old document when it cut (its state
// vector), and a replica that moves later leaves out of its copy the tasks the new document lacks
// though the starter had seen every entry of them (they left there: archived). Anything the
// starter had not seen is carried, as before; a value in meta that is not a state vector is none.
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
  it('a replica that missed a deletion does not carry the task back; one with an entry the starter never saw, or a task it never saw, is carried', () => {
    const { l, mine } = setup();
    const seen = mine.seenAtCut(G0);
    expect(seen).toBeInstanceOf(Map);
    expect(mine.seenAtCut('other')).toBeUndefined();
    const left = l.copyInto(mine, new Set(), seen);
    expect(left.map((r) => r.id)).toEqual(['t1']);
    // The record of t1 is whole: its spec and both facts, for this replica's archive.
    expect(Object.keys(left[0]!.facts).sort()).toEqual(['t1/claim/1/p1', 't1/done/1/p1']);
    expect([...mine.taskIds()].sort()).toEqual(['t2', 't3', 't4']);
  });

  it('without what the starter had seen, everything the base lacks is carried (as before)', () => {
    const { l, mine } = setup();
    expect(l.copyInto(mine, new Set())).toEqual([]);
    expect([...mine.taskIds()].sort()).toEqual(['t1', 't2', 't3', 't4']);
  });

  it('a value in meta that is not a state vector (a hostile peer, garbage, too large) reads as none', () => {
    const b = board();
    for (const bad of ['not bytes', new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]), new Uint8Array(65 * 1024)]) {
      b.doc.getMap(ROOT.meta).set(`seen:${G0}`, bad);
      expect(b.seenAtCut(G0)).toBeUndefined();
    }
  });
});
