// What leaves the live document together: a batch with all its tasks, and batches naming the same
// task id with each other (else the rival would hold the archived task again, without its facts,
// and its assignee would run it twice: seed 5014 of the 3-peer 2,000-task sweep).
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TaskBoard, type TaskBatch } from '@agentmesh/crdt-store';
import type { TaskSpec } from '@agentmesh/scheduler';
import { archiveUnits } from '../src/peer/archive-units.js';

const spec = (id: string): TaskSpec => ({
  id, type: 'echo', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 1000, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted',
});
const batch = (ids: string[], assignee: string): TaskBatch => ({ createdBy: 'p1', createdAt: 1000, tasks: ids.map((id) => ({ spec: spec(id), assignee })) });

function board(): TaskBoard {
  const b = new TaskBoard(new Y.Doc(), { now: () => 1 });
  // b1 holds x (the smaller key) and a; b2 names x too and holds y; b3 stands alone; s is a single entry.
  b.putTaskBatch('b1', batch(['x', 'a'], 'p1'));
  b.putTaskBatch('b2', batch(['x', 'y'], 'p2'));
  b.putTaskBatch('b3', batch(['z'], 'p3'));
  b.putTask(spec('s'));
  return b;
}

describe('archiveUnits', () => {
  it('a single task is its own unit, a batch goes with all its tasks', () => {
    const b = board();
    expect([...archiveUnits(b, new Set(['s', 'z'])).entries()]).toEqual([['s', ['s']], ['b3', ['z']]]);
  });

  it('batches naming the same task go together, only when every task either holds is selected', () => {
    const b = board();
    expect(b.batchOf('x')).toBe('b1');
    // x and a selected, y not: b1 cannot go without b2, b2 not without y.
    expect(archiveUnits(b, new Set(['x', 'a']))).toEqual(new Map());
    const units = archiveUnits(b, new Set(['x', 'a', 'y']));
    expect([...units.keys()]).toEqual(['b1']);
    expect([...units.get('b1')!].sort()).toEqual(['a', 'x', 'y']);
  });

  it('deleting a unit takes every batch in it: the shared task does not come back', () => {
    const b = board();
    const unit = archiveUnits(b, new Set(['x', 'a', 'y'])).get('b1')!;
    b.deleteTasks(new Set(unit));
    for (const id of ['x', 'a', 'y']) expect(b.getSpec(id)).toBeUndefined();
    expect(b.getSpec('z')).toBeDefined();
  });
});
