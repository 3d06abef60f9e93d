// What the sync engine spends per update, over the in-memory hub: anti-entropy pulls only what is
// still missing after the grace period (not what is merely in flight), a pull from a peer a little
// behind is answered from the ring of recent updates (deletions included), one apply per update
// (a delete set that breaks after good structs is reported), and the ephemeral side channel.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { isMeshError } from '@agentmesh/scheduler';
import { sameReplicaState } from '@agentmesh/crdt-store';
import { MemoryHub, SyncEngine, systemClock, encodeSyncMessage, SYNC_UPDATE, SYNC_NOTICE, MESSAGE_EPHEMERAL, encodeEphemeral, type Transport } from '../src/index.js';
import { RecentUpdates } from '../src/sync/recent-updates.js';
import type { Clock } from '../src/clock.js';
import { ManualClock } from './manual-clock.js';
import { until } from './helpers.js';

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** A clock that moves only when told, running due timers in order and the hub's microtasks between them. */
/** One turn of the event loop (what the sync engine's 0 ms timers and I/O wait for). */
const immediate = (): Promise<void> => new Promise((r) => setImmediate(r));

function engine(doc: Y.Doc, t: Transport, rejected: string[] = [], antiEntropyMs = 60_000, clock: Clock = systemClock) {
  const e = new SyncEngine(doc, t, { clock, batchMs: 2, antiEntropyMs, repairMs: 10, maxMessageBytes: 1 << 20, maxEphemeralBytes: 1024 });
  e.on('invalid', ({ reason }) => rejected.push(reason));
  return e;
}

/** A transport over `inner` whose updates (outer type 0, sub 2) are held back `delayMs`, or dropped while `drop` says so. */
function laggy(inner: Transport, opts: { delayMs?: number; drop?: () => boolean; clock?: Clock }): Transport {
  const isUpdate = (d: Uint8Array) => d[0] === 0 && d[1] === SYNC_UPDATE;
  return {
    localId: inner.localId,
    connectedPeers: () => inner.connectedPeers(),
    setHandlers: (h) => inner.setHandlers(h),
    send: (to, d) => {
      if (!isUpdate(d)) return inner.send(to, d);
      if (opts.drop?.()) return;
      const copy = d.slice();
      if (opts.delayMs) (opts.clock ?? systemClock).setTimeout(() => inner.send(to, copy), opts.delayMs);
      else inner.send(to, copy);
    },
  };
}

describe('SyncEngine costs', () => {
  it('does not pull what is only in flight, and pulls what is still missing after the grace period', async () => {
    const clock = new ManualClock();
    const hub = new MemoryHub();
    const a = new Y.Doc();
    const b = new Y.Doc();
    let dropping = false;
    const ta = laggy(hub.join('a'), { delayMs: 15, drop: () => dropping, clock });
    const ea = engine(a, ta, [], 60_000, clock);
    const eb = engine(b, hub.join('b'), [], 60_000, clock);
    ea.start();
    eb.start();
    await clock.advanceAsync(50, immediate).then(immediate);
    const pullsBefore = eb.stats.pulls;
    // Updates arrive 15 ms late (the grace is 3 x 10 ms + the 2 ms batch); every update is
    // followed at once by a notice naming it.
    for (let i = 0; i < 10; i++) {
      a.getMap('m').set(`k${i}`, i);
      await clock.advanceAsync(4, immediate).then(immediate);
      ea.antiEntropy();
    }
    await clock.advanceAsync(100, immediate).then(immediate);
    expect(b.getMap('m').size).toBe(10);
    expect(eb.stats.pulls).toBe(pullsBefore);
    // A lost update (the last one: no later update reveals the gap) is pulled after the grace.
    dropping = true;
    a.getMap('m').set('lost', 1);
    await clock.advanceAsync(10, immediate).then(immediate);
    dropping = false;
    ea.antiEntropy();
    await clock.advanceAsync(20, immediate).then(immediate);
    expect(b.getMap('m').get('lost')).toBeUndefined();
    await clock.advanceAsync(20, immediate).then(immediate);
    expect(b.getMap('m').get('lost')).toBe(1);
    expect(eb.stats.pulls).toBe(pullsBefore + 1);
    expect(sameReplicaState(a, b)).toBe(true);
    ea.stop();
    eb.stop();
  });

  it('answers a pull from a peer a little behind from the ring of recent updates, deletions included', async () => {
    const hub = new MemoryHub();
    const a = new Y.Doc();
    const b = new Y.Doc();
    let dropping = false;
    const ea = engine(a, laggy(hub.join('a'), { drop: () => dropping }));
    const eb = engine(b, hub.join('b'));
    ea.start();
    eb.start();
    for (let i = 0; i < 50; i++) a.getMap('m').set(`k${i}`, i);
    await until(() => b.getMap('m').size === 50, 2_000, 'first sync');
    const full = ea.stats.answeredFull;
    dropping = true;
    a.transact(() => {
      a.getMap('m').set('k1', 'new');
      a.getArray<number>('l').insert(0, [1, 2, 3]);
    });
    await tick(10);
    a.transact(() => {
      a.getArray('l').delete(0, 2);
      a.getMap('m').set('k2', 'newer');
    });
    await tick(10);
    dropping = false;
    ea.antiEntropy();
    await until(() => sameReplicaState(a, b), 2_000, 'repaired');
    expect(b.getArray('l').toJSON()).toEqual([3]);
    expect(ea.stats.answeredFromRecent).toBeGreaterThan(0);
    expect(ea.stats.answeredFull).toBe(full);
    ea.stop();
    eb.stop();
  });

  it('the ring answers only when it reaches back far enough', () => {
    const doc = new Y.Doc();
    const ring = new RecentUpdates({ maxEntries: 3, maxBytes: 1 << 20 });
    doc.on('update', (u: Uint8Array, _o: unknown, _d: Y.Doc, tr: Y.Transaction) => ring.record(u, tr.beforeState));
    const early = Y.encodeStateVector(doc);
    for (let i = 0; i < 5; i++) doc.getMap('m').set(`k${i}`, i);
    // An asker holding nothing: the ring (3 updates) does not reach back to the first two.
    expect(ring.answer(Y.decodeStateVector(early), early)).toBeUndefined();
    // An asker holding the first three updates: the ring has the last two.
    const sv3 = new Map([[doc.clientID, 3]]);
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, 1);
    encoding.writeVarUint(enc, doc.clientID);
    encoding.writeVarUint(enc, 3);
    const answer = ring.answer(sv3, encoding.toUint8Array(enc));
    expect(answer).toBeDefined();
    const meta = Y.parseUpdateMeta(answer!);
    expect(meta.from.get(doc.clientID)).toBe(3);
    expect(meta.to.get(doc.clientID)).toBe(5);
    expect(ring.hits).toBe(1);
    expect(ring.misses).toBe(1);
  });

  it('applies each remote update once; a delete set that breaks after good structs is reported', () => {
    const hub = new MemoryHub();
    const a = new Y.Doc();
    const rejected: string[] = [];
    const ea = engine(a, hub.join('a'), rejected);
    ea.start();
    const src = new Y.Doc();
    src.getMap('m').set('x', 1);
    const good = Y.encodeStateAsUpdate(src);
    // Cut the final delete set (its client count, 0) and write a count with no entries after it.
    const broken = new Uint8Array(good.byteLength);
    broken.set(good.subarray(0, good.byteLength - 1));
    broken[good.byteLength - 1] = 5;
    ea.receive('evil', encodeSyncMessage(SYNC_UPDATE, broken));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/part way/);
    // What was well-formed is applied, as if it had come alone.
    expect(a.getMap('m').get('x')).toBe(1);
    ea.receive('evil', encodeSyncMessage(SYNC_UPDATE, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])));
    expect(rejected).toHaveLength(2);
    expect(rejected[1]).toMatch(/malformed update/);
    ea.stop();
  });

  it('carries ephemeral messages to one peer or to all, never into the document', async () => {
    const hub = new MemoryHub();
    const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
    const rejected: string[] = [];
    const engines = docs.map((d, i) => engine(d, hub.join(`p${i}`), rejected));
    const got: string[] = [];
    engines.forEach((e, i) => e.on('ephemeral', ({ from, data }) => got.push(`${from}>p${i}:${new TextDecoder().decode(data)}`)));
    for (const e of engines) e.start();
    await tick();
    const before = docs.map((d) => Y.encodeStateAsUpdate(d));
    engines[0]!.sendEphemeral(new TextEncoder().encode('all'));
    engines[1]!.sendEphemeral(new TextEncoder().encode('one'), 'p2');
    await until(() => got.length === 3, 1_000, 'ephemeral delivered');
    expect(got.sort()).toEqual(['p0>p1:all', 'p0>p2:all', 'p1>p2:one']);
    expect(docs.map((d) => Y.encodeStateAsUpdate(d))).toEqual(before);
    expect(engines[0]!.stats.ephemeralSent).toBe(1);
    expect(engines[2]!.stats.ephemeralReceived).toBe(2);
    // Over the limit: the sender refuses; a receiver rejects one that got through, and a malformed one.
    expect(() => engines[0]!.sendEphemeral(new Uint8Array(2048))).toThrow(/over the 1024-byte limit/);
    try {
      engines[0]!.sendEphemeral('x' as unknown as Uint8Array);
      expect.unreachable();
    } catch (e) {
      expect(isMeshError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
    engines[1]!.receive('evil', encodeEphemeral(new Uint8Array(2048)));
    engines[1]!.receive('evil', new Uint8Array([MESSAGE_EPHEMERAL, 10, 1, 2]));
    expect(rejected).toHaveLength(2);
    expect(rejected[0]).toMatch(/ephemeral message of 2048 bytes/);
    expect(rejected[1]).toMatch(/undecodable/);
    for (const e of engines) e.stop();
  });
});

describe('anti-entropy notices', () => {
  /** An engine whose transport says it is linked to `n` peers, and the peers each round's notices went to. */
  async function rounds(n: number, count: number): Promise<string[][]> {
    const clock = new ManualClock();
    const peers = Array.from({ length: n }, (_, i) => `p${i}`);
    let sent: string[] = [];
    const t: Transport = {
      localId: 'me',
      connectedPeers: () => peers,
      setHandlers: () => {},
      // A notice is a sync message (type 0, genesis generation) of sub-type SYNC_NOTICE.
      send: (to, d) => {
        if (d[0] === 0 && d[1] === SYNC_NOTICE) sent.push(to);
      },
    };
    const e = engine(new Y.Doc(), t, [], 60_000, clock);
    e.start();
    const out: string[][] = [];
    for (let r = 0; r < count; r++) {
      sent = [];
      e.antiEntropy();
      out.push(sent);
    }
    e.stop();
    return out;
  }

  it('go to every link each round up to 16 links', async () => {
    for (const r of await rounds(16, 3)) expect(r.sort()).toEqual(Array.from({ length: 16 }, (_, i) => `p${i}`).sort());
  });

  it('above 16 links go to 8 per round, taking turns, so each link hears one every few rounds', async () => {
    const got = await rounds(30, 8);
    for (const r of got) expect(new Set(r).size).toBe(8);
    // Four rounds cover all 30 links (8 x 4 = 32), and no link waits more than four rounds.
    for (let k = 0; k + 4 <= got.length; k++) expect(new Set(got.slice(k, k + 4).flat()).size).toBe(30);
  });
});

