// Pins the one Yjs internal this package reads (Y.Map's `_map`, see src/yjs-map-entry.ts): the id
// it gives for a key must be the write whose value the map shows, stay on the last write after a
// delete, and agree between replicas after concurrent writes. Expected ids come from public API
// only (the writer's clientID and Y.getState before the write), so a Yjs upgrade that renames or
// changes `_map` fails here instead of silently breaking TaskBoard.taskItemIds.

import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { mapEntryId } from '../src/yjs-map-entry.js';
import { TaskBoard } from '../src/board.js';

/** Sets `key` and returns the id Yjs gives the new item, from public API. */
function setAndId(doc: Y.Doc, map: Y.Map<unknown>, key: string, value: unknown): { client: number; clock: number } {
  const clock = Y.getState(doc.store, doc.clientID);
  map.set(key, value);
  return { client: doc.clientID, clock };
}

describe('mapEntryId (Y.Map internals)', () => {
  it('is undefined for a key never written', () => {
    const doc = new Y.Doc();
    expect(mapEntryId(doc.getMap('m'), 'k')).toBeUndefined();
  });

  it('names the latest write of a key, and after a delete still the last write', () => {
    const doc = new Y.Doc();
    const m = doc.getMap<unknown>('m');
    const first = setAndId(doc, m, 'k', { v: 1 });
    expect(mapEntryId(m, 'k')).toEqual(first);
    setAndId(doc, m, 'other', 'x');
    const second = setAndId(doc, m, 'k', { v: 2 });
    expect(second.clock).toBeGreaterThan(first.clock);
    expect(mapEntryId(m, 'k')).toEqual(second);
    m.delete('k');
    expect(m.has('k')).toBe(false);
    expect(mapEntryId(m, 'k')).toEqual(second);
  });

  it('is the same on every replica after concurrent writes, and is the write whose value wins', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    a.clientID = 1;
    b.clientID = 2;
    const ia = setAndId(a, a.getMap('m'), 'k', 'from-a');
    const ib = setAndId(b, b.getMap('m'), 'k', 'from-b');
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const winner = a.getMap('m').get('k');
    expect(b.getMap('m').get('k')).toBe(winner);
    const expected = winner === 'from-a' ? ia : ib;
    expect(mapEntryId(a.getMap('m'), 'k')).toEqual(expected);
    expect(mapEntryId(b.getMap('m'), 'k')).toEqual(expected);
  });

  it('survives a round trip through an encoded update (a replica loaded from storage)', () => {
    const a = new Y.Doc();
    const id = setAndId(a, a.getMap('m'), 'k', 1);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(mapEntryId(b.getMap('m'), 'k')).toEqual(id);
  });

  it('TaskBoard.taskItemIds lists the spec and each fact, covered exactly by the state vector', () => {
    const doc = new Y.Doc();
    const board = new TaskBoard(doc, { now: () => 0 });
    board.putTask({
      id: 't1', type: 'echo', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
      timeoutMs: 0, createdAt: 1, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted',
    });
    board.putBid('t1', { peer: 'p1', round: 1, score: 0.5, load: 0, capacity: 10, at: 5 });
    board.putExpiry('t1', { round: 1, by: 'p2', at: 9 });
    const ids = board.taskItemIds('t1');
    expect(ids).toHaveLength(3);
    const sv = Y.decodeStateVector(Y.encodeStateVector(doc));
    for (const { client, clock } of ids) {
      expect(client).toBe(doc.clientID);
      expect(sv.get(client)! > clock).toBe(true);
    }
    expect(new Set(ids.map((i) => i.clock)).size).toBe(3);
  });
});
