// The typed board: remote junk never reaches readers, facts are write-once, concurrent creation of
// the same task (idempotency keys) loses nothing, and replica equality sees deletions.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { TaskBoard, ROOT, sameReplicaState, replicaFingerprint, factKey, factsFromRecord, parseFactKey, type InvalidEntry, type TaskRecord } from '../src/index.js';
import type { TaskFacts, TaskSpec } from '@agentmesh/scheduler';

const spec = (id: string, over: Partial<TaskSpec> = {}): TaskSpec => ({
  id, type: 'echo', payload: { x: 1 }, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 1, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted', ...over,
});

function boardPair() {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u, 'remote'));
  b.on('update', (u: Uint8Array) => Y.applyUpdate(a, u, 'remote'));
  const invalid: InvalidEntry[] = [];
  const ba = new TaskBoard(a, { now: () => 100 });
  const bb = new TaskBoard(b, { now: () => 200, onInvalid: (e) => invalid.push(e) });
  return { a, b, ba, bb, invalid };
}

describe('TaskBoard', () => {
  it('replicates tasks and facts, and stamps when each replica first saw them', () => {
    const { ba, bb } = boardPair();
    ba.putTask(spec('t1'));
    ba.putBid('t1', { peer: 'p1', round: 1, score: 0.5, load: 0, capacity: 10, at: 5 });
    const f = bb.getFacts('t1')!;
    expect(f.spec.payload).toEqual({ x: 1 });
    expect(f.bids).toHaveLength(1);
    expect(bb.seenAt('t1', 'bid', 1, 'p1')).toBe(200);
    expect(ba.seenAt('t1', 'bid', 1, 'p1')).toBe(100);
  });

  it('facts are write-once', () => {
    const { ba } = boardPair();
    ba.putTask(spec('t1'));
    expect(ba.putClaim('t1', { peer: 'p1', round: 1, score: 1, at: 1 })).toBe(true);
    expect(ba.putClaim('t1', { peer: 'p1', round: 1, score: 9, at: 2 })).toBe(false);
    expect(ba.getFacts('t1')!.claims[0]!.score).toBe(1);
  });

  it('refuses invalid local writes with a typed error and writes nothing', () => {
    const { ba, a } = boardPair();
    const before = Y.encodeStateVector(a);
    expect(() => ba.putTask({ ...spec('bad id/slash') })).toThrow(/INVALID|task id/);
    expect(() => ba.putTask(spec('t2', { maxAttempts: 0 }))).toThrow(/maxAttempts/);
    expect(() => ba.putTask(spec('t3', { payload: 'x'.repeat(2 << 20) }))).toThrow(/over the/);
    expect(() => ba.writeData('bad ns!', 'k', 1, 'p1', 1)).toThrow(/namespace/);
    expect(Y.encodeStateVector(a)).toEqual(before);
  });

  it('ignores and reports hostile remote entries; readers only see valid ones', () => {
    const { a, bb, invalid } = boardPair();
    a.transact(() => {
      a.getMap(ROOT.tasks).set('t-ok', spec('t-ok'));
      a.getMap(ROOT.tasks).set('t-bad', { id: 't-bad', type: 42 });
      a.getMap(ROOT.tasks).set('t-mismatch', spec('t-other'));
      a.getMap(ROOT.facts).set('garbage-key', { x: 1 });
      a.getMap(ROOT.facts).set('t-ok/bid/1/p9', { peer: 'p8', round: 1, score: 1, load: 0, capacity: 1, at: 0 });
      a.getMap(ROOT.facts).set('t-ok/claim/1/p9', 'not an object');
      a.getMap(ROOT.facts).set('t-ok/done/1/p9', { peer: 'p9', round: 1, result: undefined, ms: -1, at: 0 });
      a.getMap(ROOT.peers).set('p9', { id: 'p9', name: 'x', capabilities: 'all', capacity: -1 });
      a.getMap(ROOT.beats).set('p9', { at: 'now' });
      a.getMap(ROOT.data).set('ns/k', { value: 1 });
    });
    expect([...bb.taskIds()]).toEqual(['t-ok']);
    const f = bb.getFacts('t-ok')!;
    expect(f.bids).toEqual([]);
    expect(f.claims).toEqual([]);
    expect(f.dones).toEqual([]);
    expect(bb.peers()).toEqual([]);
    expect(bb.beat('p9')).toBeUndefined();
    expect(bb.data()).toEqual([]);
    expect(invalid.length).toBe(9);
    expect(invalid.map((e) => e.reason).join('\n')).toMatch(/peer does not match/);
  });

  it('the same task created concurrently on two replicas (same id) keeps every fact of both', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    const ba = new TaskBoard(a, { now: () => 0 });
    const bb = new TaskBoard(b, { now: () => 0 });
    ba.putTask(spec('k-1', { createdBy: 'pa' }));
    bb.putTask(spec('k-1', { createdBy: 'pb' }));
    ba.putBid('k-1', { peer: 'pa', round: 1, score: 1, load: 0, capacity: 1, at: 0 });
    bb.putBid('k-1', { peer: 'pb', round: 1, score: 2, load: 0, capacity: 1, at: 0 });
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(ba.getFacts('k-1')!.bids.map((x) => x.peer).sort()).toEqual(['pa', 'pb']);
    expect(bb.getFacts('k-1')!.bids.map((x) => x.peer).sort()).toEqual(['pa', 'pb']);
    expect(ba.getSpec('k-1')!.createdBy).toBe(bb.getSpec('k-1')!.createdBy);
  });

  it('emits one change event per transaction with the tasks it touched', () => {
    const { ba, bb } = boardPair();
    const seen: string[][] = [];
    bb.onChange((c) => seen.push([...c.tasks].sort()));
    ba.transact(() => {
      ba.putTask(spec('t1'));
      ba.putTask(spec('t2'));
    });
    expect(seen).toEqual([['t1', 't2']]);
  });

  it('fact keys round-trip and malformed keys are refused', () => {
    for (const k of [
      { task: 't', kind: 'bid', round: 3, peer: 'p' },
      { task: 't', kind: 'expire', round: 2 },
      { task: 't', kind: 'cancel' },
    ] as const) expect(parseFactKey(factKey(k))).toEqual(k);
    for (const bad of ['t', 't/bid', 't/bid/0/p', 't/bid/x/p', 't/nope/1/p', 't/bid/1/p/extra', '/bid/1/p']) expect(parseFactKey(bad)).toBeNull();
  });
});

describe('replica equality', () => {
  it('sees a deletion that the state vector alone misses', () => {
    const a = new Y.Doc();
    a.getMap('m').set('k', 1);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(sameReplicaState(a, b)).toBe(true);
    // b deletes; then a receives only the (unchanged) state vector-based diff without the delete set
    const c = new Y.Doc();
    Y.applyUpdate(c, Y.encodeStateAsUpdate(a));
    c.getMap('m').delete('k');
    expect(Y.encodeStateVector(c)).toEqual(Y.encodeStateVector(a));
    expect(sameReplicaState(a, c)).toBe(false);
    expect(replicaFingerprint(a)).not.toBe(replicaFingerprint(c));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(c));
    expect(sameReplicaState(a, c)).toBe(true);
    expect(replicaFingerprint(a)).toBe(replicaFingerprint(c));
  });

  it('fingerprints do not depend on the order updates were applied in', () => {
    const src = [0, 1, 2].map((i) => {
      const d = new Y.Doc();
      d.getMap('m').set(`k${i}`, i);
      d.getMap('m').set(`k${i}`, i + 1);
      return Y.encodeStateAsUpdate(d);
    });
    const x = new Y.Doc();
    const y = new Y.Doc();
    for (const u of src) Y.applyUpdate(x, u);
    for (const u of [...src].reverse()) Y.applyUpdate(y, u);
    expect(replicaFingerprint(x)).toBe(replicaFingerprint(y));
  });

  it('a deletion hands each removed task its facts as its record holds them (no alsoBy merge), equal to parsing the record', () => {
    const { a, ba, bb } = boardPair();
    ba.putTask(spec('t1'));
    ba.putClaim('t1', { peer: 'p1', round: 1, score: 0, at: 2 });
    ba.putExpiry('t1', { round: 1, by: 'p1', at: 5 });
    // p2 expired the same round concurrently: the index merges who did, the record cannot say so.
    a.getMap(ROOT.facts).set('t1/expire/1', { round: 1, by: 'p2', at: 6 });
    ba.putDone('t1', { peer: 'p1', round: 2, result: 7, at: 9, ms: 1 });
    expect(bb.getFacts('t1')!.expiries[0]!.alsoBy).toEqual(['p1']);
    ba.putTask(spec('t2'));
    const seen: { removed: TaskRecord[]; facts: Map<string, TaskFacts> | undefined }[] = [];
    bb.onChange((c) => c.removed.length > 0 && seen.push({ removed: c.removed, facts: c.removedFacts }));
    ba.deleteTasks(new Set(['t1', 't2']));
    expect(seen.length).toBe(1);
    const { removed, facts } = seen[0]!;
    expect(removed.map((r) => r.id).sort()).toEqual(['t1', 't2']);
    for (const r of removed) expect(facts?.get(r.id), r.id).toEqual(factsFromRecord(r));
    expect(facts?.get('t1')!.expiries[0]!.alsoBy).toBeUndefined();
    expect(facts?.get('t1')!.dones[0]!.result).toBe(7);
  });
});
