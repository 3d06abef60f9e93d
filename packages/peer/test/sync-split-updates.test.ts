// A remote update whose structs wait for missing ones is split by Yjs: its deletions are applied at
// once, its structs when the gap is filled. A pull answered from the ring of recent updates must
// never hand a peer the structs without the deletions (found by simulator seed 4, 7 peers, drops:
// one replica kept a task entry every other replica had deleted, and held every clock, so it never
// asked again).
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { SyncEngine, decodeSyncMessage, encodeSyncMessage, systemClock, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE, type Transport } from '../src/index.js';

function capture(id: string, sent: Uint8Array[]): Transport {
  return { localId: id, connectedPeers: () => ['c'], send: (_to, d) => sent.push(d.slice()), setHandlers: () => {} };
}

describe('split remote updates and the ring of recent updates', () => {
  it('an answer to a pull carries the deletions of an update whose structs came later', () => {
    // q writes an entry; p deletes it and writes another entry, after a first write of its own.
    const q = new Y.Doc();
    q.getMap('m').set('k', 'v');
    const qUpdate = Y.encodeStateAsUpdate(q);
    const p = new Y.Doc();
    Y.applyUpdate(p, qUpdate);
    const before = Y.encodeStateVector(p);
    p.getMap('m').set('a', 1);
    const pFirst = Y.encodeStateAsUpdate(p, before);
    const mid = Y.encodeStateVector(p);
    p.transact(() => {
      p.getMap('m').delete('k');
      p.getMap('m').set('b', 2);
    });
    const pSecond = Y.encodeStateAsUpdate(p, mid); // deletes q's entry, needs p's first write

    // b gets the second before the first (a drop and a repair): deletion now, structs later.
    const b = new Y.Doc();
    Y.applyUpdate(b, qUpdate);
    const sent: Uint8Array[] = [];
    const eb = new SyncEngine(b, capture('b', sent), { clock: systemClock, batchMs: 1, antiEntropyMs: 60_000, repairMs: 60_000, maxMessageBytes: 1 << 20 });
    eb.start();
    eb.receive('p', encodeSyncMessage(SYNC_UPDATE, pSecond));
    eb.receive('p', encodeSyncMessage(SYNC_UPDATE, pFirst));
    expect(b.getMap('m').toJSON()).toEqual({ a: 1, b: 2 });

    // c holds q's entry and p's first write, not the second: it pulls from b.
    const c = new Y.Doc();
    Y.applyUpdate(c, qUpdate);
    Y.applyUpdate(c, pFirst);
    sent.length = 0;
    eb.receive('c', encodeSyncMessage(SYNC_STEP1, Y.encodeStateVector(c)));
    const answers = sent.map((d) => { try { return decodeSyncMessage(d); } catch { return undefined; } }).filter((m) => m?.sub === SYNC_STEP2);
    expect(answers.length).toBe(1);
    Y.applyUpdate(c, answers[0]!.payload);
    // c now holds every clock b holds: it must hold the deletion too.
    expect(c.getMap('m').toJSON()).toEqual({ a: 1, b: 2 });
    expect(Y.equalSnapshots(Y.snapshot(c), Y.snapshot(b))).toBe(true);
    eb.stop();
  });
});
