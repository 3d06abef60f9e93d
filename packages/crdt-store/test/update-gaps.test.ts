// Checks filling the gaps a lost log record leaves in a document's history: the updates that wait
// for the lost clocks apply once the gap is filled, what the lost record held stays lost, nothing
// else is lost or invented, and a gap that another peer can still fill is not needed at all; and
// naming the tasks a damaged update held.

import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { TaskSpec } from '@agentmesh/scheduler';
import { encodeGapFiller, fillMissingClocks, missingClocks } from '../src/update-gaps.js';
import { namesInDamagedUpdate } from '../src/damaged-update.js';
import { batchTaskId, encodeActivity, encodeTaskBatch } from '../src/batch-codec.js';
import { encodeGenerationRecord } from '../src/log-codec.js';
import { ROOT } from '../src/schema.js';

/** A document with a fixed client id whose every update is recorded. */
function recorded(client: number): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  doc.clientID = client;
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  return { doc, updates };
}

function replay(updates: Uint8Array[], skip: ReadonlySet<number>): Y.Doc {
  const doc = new Y.Doc();
  updates.forEach((u, i) => {
    if (!skip.has(i)) Y.applyUpdate(doc, u);
  });
  return doc;
}

describe('missingClocks / fillMissingClocks', () => {
  it('without filling, one lost update hides every later update of its client; filled, only the lost one is missing', () => {
    const { doc, updates } = recorded(7);
    for (let i = 0; i < 100; i++) doc.getMap('segs').set(`b${i}`, new Uint8Array([i]));
    const copy = replay(updates, new Set([50]));
    expect(copy.getMap('segs').size).toBe(50);
    expect(missingClocks(copy)).toEqual([{ client: 7, from: 50, to: 51 }]);
    const logged: Uint8Array[] = [];
    expect(fillMissingClocks(copy, 'repair', (u) => logged.push(u))).toEqual([{ client: 7, from: 50, to: 51 }]);
    expect(logged).toHaveLength(1);
    expect(copy.store.pendingStructs).toBeNull();
    const keys = [...copy.getMap('segs').keys()].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    expect(keys).toEqual(Array.from({ length: 100 }, (_, i) => `b${i}`).filter((k) => k !== 'b50'));
    for (const k of keys) expect(Array.from(copy.getMap('segs').get(k) as Uint8Array)).toEqual([Number(k.slice(1))]);
    expect(missingClocks(copy)).toEqual([]);
  });

  it('the filler, logged after the waiting updates, rebuilds the same document on a replay', () => {
    const { doc, updates } = recorded(9);
    for (let i = 0; i < 20; i++) doc.getMap('m').set(`k${i}`, `v${i}`.repeat(i + 1));
    const copy = replay(updates, new Set([3, 11]));
    const fillers: Uint8Array[] = [];
    const filled = fillMissingClocks(copy, null, (u) => fillers.push(u));
    expect(filled.length).toBeGreaterThanOrEqual(2); // the second gap shows once the first is filled
    const again = replay([...updates.filter((_, i) => i !== 3 && i !== 11), ...fillers], new Set());
    expect(again.store.pendingStructs).toBeNull();
    expect(again.getMap('m').toJSON()).toEqual(copy.getMap('m').toJSON());
    expect(Object.keys(copy.getMap('m').toJSON())).toHaveLength(18);
  });

  it('what was written on top of lost content stays lost; other keys are unaffected', () => {
    const { doc, updates } = recorded(5);
    const root = doc.getMap('tasks');
    root.set('a', 'a1'); // 0
    root.set('b', new Y.Map()); // 1: lost
    (root.get('b') as Y.Map<string>).set('x', 'y'); // 2: inside the lost map
    root.set('a', 'a2'); // 3
    root.set('c', 'c1'); // 4
    const copy = replay(updates, new Set([1]));
    fillMissingClocks(copy, null);
    expect(copy.store.pendingStructs).toBeNull();
    expect(copy.getMap('tasks').toJSON()).toEqual({ a: 'a2', c: 'c1' });
  });

  it('a gap of one client that another client writes on top of is found from the reference', () => {
    const a = recorded(1);
    a.doc.getMap('tasks').set('t', new Y.Map());
    const b = new Y.Doc();
    b.clientID = 2;
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a.doc));
    const before = Y.encodeStateVector(b);
    (b.getMap('tasks').get('t') as Y.Map<string>).set('state', 'done');
    b.getMap('tasks').set('u', 'fine');
    const fromB = Y.encodeStateAsUpdate(b, before);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, fromB); // a's update is lost
    expect(missingClocks(copy)).toEqual([{ client: 1, from: 0, to: 1 }]);
    fillMissingClocks(copy, null);
    expect(copy.store.pendingStructs).toBeNull();
    expect(copy.getMap('tasks').toJSON()).toEqual({ u: 'fine' });
  });

  it('a gap another replica still has is not needed: syncing with it heals everything', () => {
    const { doc, updates } = recorded(3);
    for (let i = 0; i < 10; i++) doc.getMap('m').set(`k${i}`, i);
    const copy = replay(updates, new Set([4]));
    expect(missingClocks(copy)).toHaveLength(1);
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(copy)));
    expect(missingClocks(copy)).toEqual([]);
    expect(copy.getMap('m').toJSON()).toEqual(doc.getMap('m').toJSON());
  });

  it('nothing pending: nothing to fill; the filler of no gap is an empty update', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 1);
    expect(missingClocks(doc)).toEqual([]);
    expect(fillMissingClocks(doc, null)).toEqual([]);
    const before = Y.encodeStateAsUpdate(doc);
    Y.applyUpdate(doc, encodeGapFiller([]));
    expect(Y.encodeStateAsUpdate(doc)).toEqual(before);
  });
});

describe('namesInDamagedUpdate', () => {
  const spec = (id: string): TaskSpec => ({
    id, type: 'echo', payload: { pad: 'x'.repeat(40) }, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
    timeoutMs: 0, createdAt: 1000, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted',
  });

  it('names the tasks a damaged update created or touched, as far as its bytes still decode', () => {
    const { doc, updates } = recorded(4);
    doc.transact(() => {
      doc.getMap(ROOT.segs).set('bk-1', encodeTaskBatch('bk-1', { createdBy: 'p1', createdAt: 1000, tasks: [0, 1, 2].map((i) => ({ spec: spec(batchTaskId('bk-1', i)) })) }));
      doc.getMap(ROOT.acts).set('ak-1', encodeActivity({ peer: 'p1', records: [{ kind: 'claim', task: 'other.0', round: 1, at: 5, score: 1 }] }));
      doc.getMap(ROOT.peers).set('p1', { id: 'p1' });
    });
    const update = updates[0]!;
    expect(namesInDamagedUpdate(update)).toEqual({ created: ['bk-1.0', 'bk-1.1', 'bk-1.2'], touched: ['other.0'], entries: ['peers/p1'], generation: false, unreadable: false });
    // One bad byte: whatever still decodes is named; it never throws.
    for (let at = 0; at < update.length; at++) {
      const bad = update.slice();
      bad[at]! ^= 0x5a;
      const n = namesInDamagedUpdate(bad);
      expect(Array.isArray(n.created) && Array.isArray(n.entries)).toBe(true);
    }
    expect(namesInDamagedUpdate(encodeGenerationRecord(update)).generation).toBe(true);
  });
});
