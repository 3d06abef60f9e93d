// The sync protocol over the in-memory hub: convergence, batching, repair after loss, and hostile
// messages that are rejected without touching the document or crashing the peer.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MemoryHub, SyncEngine, systemClock, encodeSyncMessage, SYNC_UPDATE, SYNC_STEP1, SYNC_STEP2, type Transport } from '../src/index.js';
import { sameReplicaState } from '@agentmesh/crdt-store';

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

function engine(doc: Y.Doc, t: Transport, rejected: string[] = []) {
  const e = new SyncEngine(doc, t, { clock: systemClock, batchMs: 2, antiEntropyMs: 200, repairMs: 10, maxMessageBytes: 1 << 20 });
  e.on('invalid', ({ reason }) => rejected.push(reason));
  return e;
}

describe('SyncEngine', () => {
  it('converges two docs, merging a burst of local transactions into few messages', async () => {
    const hub = new MemoryHub();
    const a = new Y.Doc();
    const b = new Y.Doc();
    const ea = engine(a, hub.join('a'));
    const eb = engine(b, hub.join('b'));
    ea.start();
    eb.start();
    await tick();
    for (let i = 0; i < 200; i++) a.getMap('m').set(`k${i}`, i);
    await tick(50);
    expect(b.getMap('m').size).toBe(200);
    expect(ea.stats.updatesSent).toBeLessThan(10);
    expect(sameReplicaState(a, b)).toBe(true);
    ea.stop();
    eb.stop();
  });

  it('a late joiner catches up on connect, deletions included', async () => {
    const hub = new MemoryHub();
    const a = new Y.Doc();
    a.getMap('m').set('x', 1);
    a.getMap('m').set('y', 2);
    a.getMap('m').delete('x');
    const ea = engine(a, hub.join('a'));
    ea.start();
    const b = new Y.Doc();
    const eb = engine(b, hub.join('b'));
    eb.start();
    await tick(50);
    expect(b.getMap('m').toJSON()).toEqual({ y: 2 });
    expect(sameReplicaState(a, b)).toBe(true);
    ea.stop();
    eb.stop();
  });

  it('repairs a lost update at once instead of waiting for anti-entropy', async () => {
    const hub = new MemoryHub();
    const a = new Y.Doc();
    const b = new Y.Doc();
    const ta = hub.join('a');
    let dropNext = false;
    const lossy: Transport = { ...ta, localId: 'a', connectedPeers: () => ta.connectedPeers(), setHandlers: (h) => ta.setHandlers(h), send: (to, d) => (dropNext ? (dropNext = false) : ta.send(to, d)) };
    const ea = new SyncEngine(a, lossy, { clock: systemClock, batchMs: 1, antiEntropyMs: 60_000, repairMs: 10, maxMessageBytes: 1 << 20 });
    const eb = engine(b, hub.join('b'));
    eb.start();
    ea.start();
    await tick();
    dropNext = true;
    a.getMap('m').set('lost', 1);
    await tick();
    a.getMap('m').set('after', 2);
    await tick(60);
    expect(b.getMap('m').toJSON()).toEqual({ lost: 1, after: 2 });
    expect(eb.stats.repairs).toBeGreaterThan(0);
    ea.stop();
    eb.stop();
  });

  it('rejects garbage, malformed updates and oversized messages; the doc is unchanged and sync goes on', async () => {
    const hub = new MemoryHub();
    const a = new Y.Doc();
    const rejected: string[] = [];
    const ea = engine(a, hub.join('a'), rejected);
    ea.start();
    const before = Y.encodeStateAsUpdate(a);
    ea.receive('evil', new Uint8Array([0xff, 0xff, 0xff]));
    ea.receive('evil', encodeSyncMessage(SYNC_UPDATE, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])));
    ea.receive('evil', encodeSyncMessage(SYNC_STEP2, Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)));
    ea.receive('evil', encodeSyncMessage(SYNC_STEP1, new Uint8Array([200, 200, 200])));
    ea.receive('evil', new Uint8Array(2 << 20));
    ea.receive('evil', new Uint8Array([7, 0, 0]));
    expect(rejected.length).toBe(6);
    expect(Y.encodeStateAsUpdate(a)).toEqual(before);
    const b = new Y.Doc();
    const eb = engine(b, hub.join('b'));
    eb.start();
    b.getMap('m').set('still', 'works');
    await tick(50);
    expect(a.getMap('m').get('still')).toBe('works');
    ea.stop();
    eb.stop();
  });
});
