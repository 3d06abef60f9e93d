// The doc bridge on its own (no sockets): the peer doc and the y-websocket server doc stay equal,
// updates go one way only (a change of the server doc never reaches the peer doc), nothing echoes, and bind / rebind / stop / destroy leave
// the library's global `docs` map and both documents in the state they promise. The server doc
// (replica) exists only while a lease is held, plus a grace period.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { docs } from '@y/websocket-server/utils';
import { MeshError } from '@agentmesh/scheduler';
import type { LogLevel } from '../src/logger.js';
import { DocBridge, WsOrigin } from '../src/ws/bridge.js';
import { MeshOrigin } from '../src/sync.js';

/** A library transaction origin standing for one connection (LibConn in the endpoint). */
class FakeConn {
  constructor(readonly origin: WsOrigin) {}
}

const made: DocBridge[] = [];
afterEach(() => {
  while (made.length) made.pop()!.destroy();
});

function bridge(extra: { beforeRebind?: () => void; onDocDestroyed?: () => void; graceMs?: number } = {}) {
  const logs: Array<{ level: LogLevel; msg: string }> = [];
  const b = new DocBridge({
    room: 'r',
    logger: { log: (level, msg) => logs.push({ level, msg }) },
    clientOrigin: (o) => (o instanceof FakeConn ? o.origin : undefined),
    ...extra,
  });
  made.push(b);
  return { b, logs };
}

const shared = (b: DocBridge) => docs.get(b.libraryDocName())!;

describe('ws doc bridge', () => {
  it('the first client copies the peer doc into a fresh library doc and carries peer updates one way without echo', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('before', 1);
    const before = docs.size;
    const { b } = bridge();
    b.bind(doc);
    expect(docs.size).toBe(before);
    expect(b.doc).toBe(doc);
    const s = shared(b);
    expect(docs.size).toBe(before + 1);
    expect(b.libraryDocName()).toMatch(new RegExp(`^r#agentmesh-ws-\\d+-${process.pid}$`));
    expect(s.getMap('m').get('before')).toBe(1);

    const docOrigins: unknown[] = [];
    const sharedOrigins: unknown[] = [];
    doc.on('update', (_u: Uint8Array, o: unknown) => docOrigins.push(o));
    s.on('update', (_u: Uint8Array, o: unknown) => sharedOrigins.push(o));

    // Peer writes (local and mesh) reach the library doc once.
    doc.getMap('m').set('local', 2);
    Y.applyUpdate(doc, (() => {
      const other = new Y.Doc();
      other.getMap('m').set('mesh', 3);
      return Y.encodeStateAsUpdate(other);
    })(), new MeshOrigin('p2'));
    expect(s.getMap('m').toJSON()).toEqual({ before: 1, local: 2, mesh: 3 });
    expect(sharedOrigins.length).toBe(2);
    expect(docOrigins.length).toBe(2);

    // Connection origins are numbered per process.
    const origin = b.originFor('127.0.0.1');
    expect(origin).toBeInstanceOf(WsOrigin);
    expect(origin.room).toBe('r');
    expect(origin.remote).toBe('127.0.0.1');
    expect(origin.connection).toBeGreaterThan(0);
    expect(b.originFor(undefined).connection).toBe(origin.connection + 1);

    // A change of the library doc (a client's or anyone's) never reaches the peer doc: counted and logged.
    s.transact(() => s.getMap('m').set('client', 4), new FakeConn(origin));
    s.getMap('m').set('server', 5);
    expect(doc.getMap('m').has('client')).toBe(false);
    expect(doc.getMap('m').has('server')).toBe(false);
    expect(docOrigins.length).toBe(2);
    expect(b.refused).toBe(2);
  });

  it('a second bind, or a bind after destroy, is refused', () => {
    const { b } = bridge();
    b.bind(new Y.Doc());
    expect(() => b.bind(new Y.Doc())).toThrow(MeshError);
    b.destroy();
    const err = (() => {
      try {
        b.bind(new Y.Doc());
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('CLOSED');
  });

  it('rebind serves the next doc under a new key and lets the old one go', () => {
    let before = 0;
    const { b, logs } = bridge({ beforeRebind: () => before++ });
    const d1 = new Y.Doc();
    d1.getMap('m').set('gen', 1);
    b.bind(d1);
    const key1 = b.libraryDocName();
    const s1 = shared(b);
    const size = docs.size;

    b.rebind(d1); // the same doc: nothing happens
    expect(before).toBe(0);
    expect(b.libraryDocName()).toBe(key1);

    const d2 = new Y.Doc();
    d2.getMap('m').set('gen', 2);
    b.rebind(d2);
    expect(before).toBe(1);
    expect(b.doc).toBe(d2);
    const key2 = b.libraryDocName();
    expect(key2).not.toBe(key1);
    expect(docs.has(key1)).toBe(false);
    expect(docs.size).toBe(size);
    const s2 = shared(b);
    expect(s2).not.toBe(s1);
    expect(s2.getMap('m').get('gen')).toBe(2);
    expect(logs.some((l) => l.level === 'info' && /new document generation/.test(l.msg))).toBe(true);

    // The old doc is no longer carried, the new one is.
    d1.getMap('m').set('late', 1);
    expect(s2.getMap('m').has('late')).toBe(false);
    d2.getMap('m').set('now', 1);
    expect(s2.getMap('m').get('now')).toBe(1);
  });

  it('stop halts carrying updates and rebind; destroy frees the library doc, keeps the peer doc, and is idempotent', () => {
    let before = 0;
    const { b } = bridge({ beforeRebind: () => before++ });
    const doc = new Y.Doc();
    const size = docs.size;
    b.bind(doc);
    const s = shared(b);
    b.stop();
    doc.getMap('m').set('x', 1);
    expect(s.getMap('m').has('x')).toBe(false);
    s.transact(() => s.getMap('m').set('y', 1), new FakeConn(b.originFor(undefined)));
    expect(doc.getMap('m').has('y')).toBe(false);
    b.rebind(new Y.Doc());
    expect(before).toBe(0);
    expect(b.doc).toBe(doc);

    b.destroy();
    b.destroy();
    expect(docs.size).toBe(size);
    expect(s.isDestroyed).toBe(true);
    expect(() => b.doc).toThrow(MeshError);
    doc.getMap('m').set('after', 1);
    expect(doc.getMap('m').get('after')).toBe(1);
  });

  it('puts its doc back when someone removed it from the library map', () => {
    const { b } = bridge();
    b.bind(new Y.Doc());
    const key = b.libraryDocName();
    const s = docs.get(key);
    docs.delete(key);
    expect(b.libraryDocName()).toBe(key);
    expect(docs.get(key)).toBe(s);
  });

  it('reports the peer doc being destroyed', () => {
    let destroyed = 0;
    const { b, logs } = bridge({ onDocDestroyed: () => destroyed++ });
    const doc = new Y.Doc();
    b.bind(doc);
    doc.destroy();
    expect(destroyed).toBe(1);
    expect(logs.some((l) => l.level === 'warn' && /destroyed/.test(l.msg))).toBe(true);
  });
});

/** Update listeners on a doc (lib0's ObservableV2 keeps them in `_observers`). */
const updateListeners = (d: Y.Doc): number => (d as unknown as { _observers: Map<string, Set<unknown>> })._observers.get('update')?.size ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ws doc bridge: the replica exists only while a client holds it', () => {
  it('no library doc and no forwarding without a client; the first client gets the full state', async () => {
    const doc = new Y.Doc();
    const baseline = updateListeners(doc);
    const size = docs.size;
    const { b } = bridge({ graceMs: 40 });
    b.bind(doc);
    for (let i = 0; i < 500; i++) doc.getMap('m').set(`k${i}`, i);
    doc.getText('t').insert(0, 'hello');
    expect(b.replicaOpen).toBe(false);
    expect(docs.size).toBe(size);
    expect(b.forwarded).toBe(0);
    expect(updateListeners(doc)).toBe(baseline);

    const lease = b.acquire();
    expect(b.replicaOpen).toBe(true);
    expect(docs.size).toBe(size + 1);
    const s = docs.get(lease.docName)!;
    expect(s.getMap('m').size).toBe(500);
    expect(s.getText('t').toString()).toBe('hello');
    expect(Y.encodeStateVector(s)).toEqual(Y.encodeStateVector(doc));
    expect(b.forwarded).toBe(0); // seeded with the full state, not replayed
    doc.getMap('m').set('live', 1);
    expect(s.getMap('m').get('live')).toBe(1);
    expect(b.forwarded).toBe(1);

    // A reconnect within the grace period keeps the replica (same key, nothing re-encoded).
    lease.release();
    lease.release(); // idempotent: one lease counts once
    await sleep(5);
    expect(b.replicaOpen).toBe(true);
    const again = b.acquire();
    expect(again.docName).toBe(lease.docName);
    await sleep(80);
    expect(b.replicaOpen).toBe(true); // held: no grace timer runs
    again.release();
    await sleep(80);
    expect(b.replicaOpen).toBe(false);
    expect(docs.has(lease.docName)).toBe(false);
    expect(docs.size).toBe(size);
    expect(s.isDestroyed).toBe(true);
    expect(updateListeners(doc)).toBe(baseline);
    const forwarded = b.forwarded;
    for (let i = 0; i < 100; i++) doc.getMap('m').set(`after${i}`, i);
    expect(b.forwarded).toBe(forwarded);

    // The next client gets a fresh replica with everything, including what happened meanwhile.
    const next = b.acquire();
    expect(next.docName).not.toBe(lease.docName);
    const s2 = docs.get(next.docName)!;
    expect(s2.getMap('m').size).toBe(601);
    expect(Y.encodeStateVector(s2)).toEqual(Y.encodeStateVector(doc));
    next.release();
  });

  it('the replica stays while any client holds it; graceMs 0 drops it with the last one', () => {
    const doc = new Y.Doc();
    const { b } = bridge({ graceMs: 0 });
    b.bind(doc);
    const l1 = b.acquire();
    const l2 = b.acquire();
    expect(l2.docName).toBe(l1.docName);
    l1.release();
    expect(b.replicaOpen).toBe(true);
    doc.getMap('m').set('x', 1);
    expect(docs.get(l2.docName)!.getMap('m').get('x')).toBe(1);
    l2.release();
    expect(b.replicaOpen).toBe(false);
    expect(docs.has(l1.docName)).toBe(false);
  });

  it('rebind drops the replica; the next client opens one of the next doc while old leases run out', () => {
    const d1 = new Y.Doc();
    d1.getMap('m').set('gen', 1);
    const { b } = bridge({ graceMs: 0 });
    b.bind(d1);
    const old = b.acquire();
    const d2 = new Y.Doc();
    d2.getMap('m').set('gen', 2);
    b.rebind(d2);
    expect(b.replicaOpen).toBe(false);
    expect(docs.has(old.docName)).toBe(false);
    expect(updateListeners(d1)).toBe(0);
    const fresh = b.acquire();
    expect(fresh.docName).not.toBe(old.docName);
    expect(docs.get(fresh.docName)!.getMap('m').get('gen')).toBe(2);
    old.release(); // an old client closing late does not take the new replica with it
    expect(b.replicaOpen).toBe(true);
    fresh.release();
    expect(b.replicaOpen).toBe(false);
  });

  it('acquire is refused once stopped; destroy cancels a pending grace period', () => {
    const doc = new Y.Doc();
    const { b } = bridge({ graceMs: 60_000 });
    b.bind(doc);
    const lease = b.acquire();
    lease.release();
    expect(b.replicaOpen).toBe(true);
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    b.stop();
    expect(() => b.acquire()).toThrow(MeshError);
    b.destroy();
    expect(b.replicaOpen).toBe(false);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(timers);
    expect(() => new DocBridge({ room: 'r', logger: { log: () => {} }, clientOrigin: () => undefined, graceMs: -1 })).toThrow(MeshError);
  });
});
