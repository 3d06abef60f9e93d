// Task batches and activity batches (schema 2): the binary codecs round-trip and never throw on
// junk, and the board turns them into the same per-task facts a single entry would hold, on every
// replica, through deletion, and through a copy into the next generation.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as Y from 'yjs';
import { deriveTask, DEFAULT_BACKOFF, DEFAULT_LEASE, type TaskSpec } from '@agentmesh/scheduler';
import {
  TaskBoard,
  ROOT,
  batchTaskId,
  decodeActivity,
  decodeTaskBatch,
  encodeActivity,
  encodeTaskBatch,
  factsFromRecord,
  type ActivityBatch,
  type InvalidEntry,
  type TaskBatch,
  type TaskRecord,
} from '../src/index.js';

const spec = (id: string, over: Partial<TaskSpec> = {}): TaskSpec => ({
  id, type: 'echo', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 1000, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted', ...over,
});

function batch(key: string, n: number, assignee?: (i: number) => string | undefined): TaskBatch {
  return {
    createdBy: 'p1',
    createdAt: 1000,
    tasks: Array.from({ length: n }, (_, i) => {
      const a = assignee?.(i);
      return a === undefined ? { spec: spec(batchTaskId(key, i)) } : { spec: spec(batchTaskId(key, i)), assignee: a };
    }),
  };
}

function pair() {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u, 'remote'));
  b.on('update', (u: Uint8Array) => Y.applyUpdate(a, u, 'remote'));
  const invalid: InvalidEntry[] = [];
  const ba = new TaskBoard(a, { now: () => 100 });
  const bb = new TaskBoard(b, { now: () => 200, onInvalid: (e) => invalid.push(e) });
  return { a, b, ba, bb, invalid };
}

const ctx = { now: 1000, taskSeenAt: 0, seenAt: () => 0, lastSeen: () => 1000, depState: () => undefined, lease: DEFAULT_LEASE, backoff: DEFAULT_BACKOFF, seed: 1 };

describe('task batch codec', () => {
  it('round-trips every optional field, explicit ids and assignees', () => {
    const full = spec('explicit-id', {
      payload: { a: [1, 'x', null, true], b: { c: 2.5 } }, priority: -3, requires: ['gpu'], prefers: ['fast'], dependsOn: ['t0'],
      maxAttempts: 7, timeoutMs: 2500, notBefore: 4000, strategy: 'least-load', key: 'idem-1', exclusive: true,
    });
    const b: TaskBatch = { createdBy: 'p1', createdAt: 1000, tasks: [{ spec: spec('k.0'), assignee: 'p2' }, { spec: full }, { spec: spec('k.2', { type: 'other' }), assignee: 'p3' }] };
    const bytes = encodeTaskBatch('k', b);
    const out = decodeTaskBatch('k', bytes);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.tasks).toEqual(b.tasks);
    expect(bytes.length).toBeLessThan(200);
  });

  it('is small: 64 plain tasks take a few bytes each', () => {
    const bytes = encodeTaskBatch('b-x', batch('b-x', 64, (i) => `peer-${i % 3}`));
    expect(bytes.length / 64).toBeLessThan(6);
  });

  it('never throws on junk, and rejects what is not a valid batch', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
      const r = decodeTaskBatch('k', junk);
      expect(typeof r.ok).toBe('boolean');
    }));
    const good = encodeTaskBatch('k', batch('k', 3));
    for (let cut = 0; cut < good.length; cut++) expect(decodeTaskBatch('k', good.subarray(0, cut)).ok).toBe(false);
    expect(decodeTaskBatch('k', 'not bytes').ok).toBe(false);
    expect(decodeTaskBatch('k', new Uint8Array([...good, 0])).ok).toBe(false);
  });

  it('rejects a batch whose task breaks the schema (binary payload)', () => {
    const bad = encodeTaskBatch('k', { createdBy: 'p1', createdAt: 1, tasks: [{ spec: spec('k.0', { payload: new Uint8Array([1]) as unknown }) }] });
    const r = decodeTaskBatch('k', bad);
    expect(r.ok).toBe(false);
  });
});

describe('activity batch codec', () => {
  it('round-trips claims, results, failures and releases, with task ids of batches and explicit ones', () => {
    const a: ActivityBatch = {
      peer: 'p2',
      records: [
        { kind: 'claim', task: 'seg-1.0', round: 1, at: 5000, score: 0 },
        { kind: 'done', task: 'seg-1.0', round: 1, at: 5003, ms: 3, result: { ok: [1, 2] } },
        { kind: 'fail', task: 'seg-1.17', round: 2, at: 4990, error: 'boom' },
        { kind: 'release', task: 'plain-id', round: 1, at: 5001 },
        { kind: 'fail', task: 'seg-1.18', round: 1, at: 5001, error: 'bad input', permanent: true },
        { kind: 'claim', task: 'seg-2.007', round: 1, at: 5002, score: 1.5 },
      ],
    };
    const r = decodeActivity(encodeActivity(a));
    expect(r.ok && r.value).toEqual(a);
  });

  it('never throws on junk', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
      expect(typeof decodeActivity(junk).ok).toBe('boolean');
    }));
  });
});

describe('TaskBoard with batches', () => {
  it('turns a task batch into tasks with assignees on every replica', () => {
    const { ba, bb } = pair();
    expect(ba.putTaskBatch('s1', batch('s1', 3, (i) => (i === 1 ? undefined : 'p2')))).toBe(true);
    expect(ba.putTaskBatch('s1', batch('s1', 3))).toBe(false);
    expect([...bb.taskIds()].sort()).toEqual(['s1.0', 's1.1', 's1.2']);
    expect(bb.getFacts('s1.0')!.assignee).toBe('p2');
    expect(bb.getFacts('s1.1')!.assignee).toBeUndefined();
    expect(bb.taskSeenAt('s1.2')).toBe(200);
    expect(deriveTask(bb.getFacts('s1.0')!, ctx).state).toBe('claimed');
    expect(deriveTask(bb.getFacts('s1.1')!, ctx).state).toBe('pending');
  });

  it('turns an activity batch into the facts of each task, seen when the batch was seen', () => {
    const { ba, bb } = pair();
    ba.putTaskBatch('s1', batch('s1', 2, () => 'p2'));
    bb.putActivity('a1', { peer: 'p2', records: [{ kind: 'claim', task: 's1.0', round: 1, at: 10, score: 0 }, { kind: 'claim', task: 's1.1', round: 1, at: 10, score: 0 }] });
    bb.putActivity('a2', { peer: 'p2', records: [{ kind: 'done', task: 's1.0', round: 1, at: 12, ms: 2, result: 'r0' }, { kind: 'fail', task: 's1.1', round: 1, at: 12, error: 'x' }] });
    const f0 = ba.getFacts('s1.0')!;
    expect(f0.claims).toEqual([{ peer: 'p2', round: 1, score: 0, at: 10 }]);
    expect(deriveTask(f0, ctx).result?.result).toBe('r0');
    expect(ba.getFacts('s1.1')!.fails[0]!.error).toBe('x');
    expect(ba.seenAt('s1.0', 'done', 1, 'p2')).toBe(100);
    // Two entries hold the task: the batch and the activity batches that name it.
    expect(ba.taskItemIds('s1.0')).toHaveLength(3);
  });

  it('a single entry under the id of a batch task wins, whatever arrived first', () => {
    for (const order of ['batch-first', 'single-first']) {
      const { ba, bb } = pair();
      const single = () => ba.putTask({ ...spec('s1.0', { type: 'single' }) });
      if (order === 'single-first') single();
      ba.putTaskBatch('s1', batch('s1', 2, () => 'p2'));
      if (order === 'batch-first') single();
      expect(bb.getSpec('s1.0')!.type).toBe('single');
      expect(bb.getFacts('s1.0')!.assignee).toBeUndefined();
      expect(bb.getSpec('s1.1')!.type).toBe('echo');
    }
  });

  it('an id named by two batches belongs to the smaller key on every replica, and moves on when it goes', () => {
    const named = (key: string, assignee: string): TaskBatch => ({ createdBy: 'p1', createdAt: 1000, tasks: [{ spec: spec('job-1', { type: `from-${key}` }), assignee }] });
    for (const order of [['b2', 'b1'], ['b1', 'b2']]) {
      const { a, ba, bb } = pair();
      for (const k of order) ba.putTaskBatch(k, named(k, `peer-of-${k}`));
      expect(bb.getSpec('job-1')!.type).toBe('from-b1');
      expect(bb.getFacts('job-1')!.assignee).toBe('peer-of-b1');
      expect(bb.getFacts('job-1')!.coAssignees).toEqual(['peer-of-b2']);
      a.transact(() => a.getMap(ROOT.segs).delete('b1'));
      expect(bb.getSpec('job-1')!.type).toBe('from-b2');
      expect(bb.getFacts('job-1')!.assignee).toBe('peer-of-b2');
      expect(bb.getFacts('job-1')!.coAssignees).toBeUndefined();
      a.transact(() => a.getMap(ROOT.segs).delete('b2'));
      expect(bb.getSpec('job-1')).toBeUndefined();
    }
  });

  it('deleting a task held by a batch deletes the other batches naming it too, so it does not come back without its facts', () => {
    const { ba, bb } = pair();
    // b1 holds job-1 (the smaller key); b2 names it too, and holds job-2.
    ba.putTaskBatch('b1', { createdBy: 'p1', createdAt: 1000, tasks: [{ spec: spec('job-1'), assignee: 'p1' }] });
    ba.putTaskBatch('b2', { createdBy: 'p1', createdAt: 1000, tasks: [{ spec: spec('job-1'), assignee: 'p2' }, { spec: spec('job-2'), assignee: 'p2' }] });
    ba.putActivity('a1', { peer: 'p1', records: [{ kind: 'claim', task: 'job-1', round: 1, at: 10, score: 0 }, { kind: 'done', task: 'job-1', round: 1, at: 11, ms: 1, result: 1 }] });
    expect(bb.rivalBatches('job-1')).toEqual(['b2']);
    // Deleting job-1 alone cannot take b2 (job-2 is still in it): b1 stays, so job-1 keeps its holder.
    ba.deleteTasks(new Set(['job-1']));
    for (const b of [ba, bb]) expect(b.batchOf('job-1')).toBe('b1');
    // Deleting both takes both batches in one transaction: job-1 is gone everywhere, not held by b2.
    const removed: string[] = [];
    bb.onChange((c) => removed.push(...c.removed.map((r) => r.id)));
    ba.deleteTasks(new Set(['job-1', 'job-2']));
    for (const b of [ba, bb]) {
      expect(b.getSpec('job-1')).toBeUndefined();
      expect(b.taskCount).toBe(0);
    }
    expect(removed.sort()).toEqual(['job-1', 'job-2']);
  });

  it('a task named by two batches leaves with its co-assignees in its record: a co-assignee\'s run still counts there', () => {
    // Seed 38 of the simulator at its CLI defaults: job-1 in b1 (assignee p1) and in b2 (assignee p2);
    // p2 ran round 1 as a co-assignee and finished. The record the archive took named p1 only, so
    // it derived the task unfinished, and the replica wrote it back live, where p2's run no longer
    // counted: the task ran again.
    const { ba, bb } = pair();
    ba.putTaskBatch('b1', { createdBy: 'p1', createdAt: 1000, tasks: [{ spec: spec('job-1'), assignee: 'p1' }] });
    ba.putTaskBatch('b2', { createdBy: 'p1', createdAt: 1000, tasks: [{ spec: spec('job-1'), assignee: 'p2' }] });
    ba.putActivity('a1', { peer: 'p2', records: [{ kind: 'claim', task: 'job-1', round: 1, at: 10, score: 0 }, { kind: 'done', task: 'job-1', round: 1, at: 11, ms: 1, result: 7 }] });
    expect(deriveTask(bb.getFacts('job-1')!, ctx).state).toBe('done');
    const removed: TaskRecord[] = [];
    bb.onChange((c) => removed.push(...c.removed));
    ba.deleteTasks(new Set(['job-1']));
    expect(removed.map((r) => r.id)).toEqual(['job-1']);
    expect(removed[0]!.coAssignees).toEqual(['p2']);
    const facts = factsFromRecord(removed[0]!)!;
    expect(facts.assignee).toBe('p1');
    expect(facts.coAssignees).toEqual(['p2']);
    expect(deriveTask(facts, ctx).state).toBe('done');
    // Junk in the field (a damaged or hostile record) names nobody.
    expect(factsFromRecord({ ...removed[0]!, coAssignees: [42, 'p1', ''] as never })!.coAssignees).toBeUndefined();
  });

  it('a live task that loses facts with an activity batch deleted elsewhere reports them, and restore puts them back', () => {
    const { a, ba, bb } = pair();
    ba.putTask(spec('job-1'));
    ba.putActivity('a1', { peer: 'p2', records: [{ kind: 'claim', task: 'job-1', round: 1, at: 10, score: 0 }, { kind: 'done', task: 'job-1', round: 1, at: 11, ms: 1, result: 7 }] });
    const dropped: { id: string; facts: Record<string, unknown> }[] = [];
    bb.onChange((c) => dropped.push(...c.dropped));
    // A peer that had archived job-1 already deletes the activity batch; job-1's own entry stays.
    a.transact(() => a.getMap(ROOT.acts).delete('a1'));
    expect(bb.getSpec('job-1')).toBeDefined();
    expect(bb.factKeysOf('job-1')).toEqual([]);
    expect(dropped.map((r) => r.id)).toEqual(['job-1']);
    expect(Object.keys(dropped[0]!.facts).sort()).toEqual(['job-1/claim/1/p2', 'job-1/done/1/p2']);
    for (const r of dropped) bb.restore(r as never);
    for (const b of [ba, bb]) expect(b.factKeysOf('job-1').sort()).toEqual(['job-1/claim/1/p2', 'job-1/done/1/p2']);
    // A normal archival (spec and batch deleted together) reports nothing dropped.
    dropped.length = 0;
    ba.putActivity('a2', { peer: 'p2', records: [{ kind: 'claim', task: 'job-2', round: 1, at: 10, score: 0 }] });
    ba.putTask(spec('job-2'));
    ba.deleteTasks(new Set(['job-2']));
    expect(dropped).toEqual([]);
  });

  it('ignores junk in the batch maps and counts it', () => {
    const { a, bb, invalid } = pair();
    a.getMap(ROOT.segs).set('junk', new Uint8Array([1, 2, 3]));
    a.getMap(ROOT.acts).set('junk', { not: 'binary' });
    expect(invalid.map((e) => e.map).sort()).toEqual([ROOT.acts, ROOT.segs]);
    expect(bb.taskCount).toBe(0);
  });

  it('forgets the tasks of a deleted batch and the facts of a deleted activity batch', () => {
    const { a, ba, bb } = pair();
    ba.putTaskBatch('s1', batch('s1', 2, () => 'p2'));
    ba.putActivity('a1', { peer: 'p2', records: [{ kind: 'claim', task: 's1.0', round: 1, at: 10, score: 0 }] });
    expect(bb.getFacts('s1.0')!.claims).toHaveLength(1);
    a.transact(() => a.getMap(ROOT.acts).delete('a1'));
    expect(bb.getFacts('s1.0')!.claims).toHaveLength(0);
    a.transact(() => a.getMap(ROOT.segs).delete('s1'));
    expect(bb.taskCount).toBe(0);
  });

  it('deleting tasks keeps an activity batch that names a task this replica has not received (its outcome would be lost)', () => {
    const board = new TaskBoard(new Y.Doc(), { now: () => 1 });
    board.putTaskBatch('s1', batch('s1', 1, () => 'p2'));
    // s2.0's batch has not arrived here; the activity batch of its runner names both tasks.
    board.putActivity('a1', { peer: 'p2', records: [{ kind: 'done', task: 's1.0', round: 1, at: 10, ms: 1, result: 1 }, { kind: 'done', task: 's2.0', round: 1, at: 11, ms: 1, result: 2 }] });
    board.deleteTasks(new Set(['s1.0']));
    expect(board.taskCount).toBe(0);
    expect(board.factKeysOf('s2.0')).toEqual(['s2.0/done/1/p2']);
    // once s2.0 is known to have been archived here, the batch goes with the next deletion
    board.putTaskBatch('s3', batch('s3', 1, () => 'p2'));
    board.putActivity('a2', { peer: 'p2', records: [{ kind: 'done', task: 's3.0', round: 1, at: 12, ms: 1, result: 3 }, { kind: 'done', task: 's2.0', round: 1, at: 11, ms: 1, result: 2 }] });
    board.deleteTasks(new Set(['s3.0']), (id) => id === 's2.0');
    expect(board.entryCount()).toBe(1);
  });

  it('a generation copy keeps batch tasks as single entries and archives dropped ones with their facts', () => {
    const { ba } = pair();
    ba.putTaskBatch('s1', batch('s1', 2, () => 'p2'));
    ba.putActivity('a1', { peer: 'p2', records: [
      { kind: 'claim', task: 's1.0', round: 1, at: 10, score: 0 },
      { kind: 'done', task: 's1.0', round: 1, at: 11, ms: 1, result: 42 },
      { kind: 'claim', task: 's1.1', round: 1, at: 10, score: 0 },
    ] });
    const next = new TaskBoard(new Y.Doc(), { now: () => 300 });
    const records = ba.copyInto(next, new Set(['s1.0']));
    expect(records.map((r) => r.id)).toEqual(['s1.0']);
    const archived = factsFromRecord(records[0]!)!;
    expect(archived.assignee).toBe('p2');
    expect(deriveTask(archived, ctx).result?.result).toBe(42);
    expect([...next.taskIds()]).toEqual(['s1.1']);
    const kept = next.getFacts('s1.1')!;
    expect(kept.assignee).toBe('p2');
    expect(deriveTask(kept, ctx).state).toBe('running');
  });
});
