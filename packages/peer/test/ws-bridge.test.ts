// The doc bridge on its own (no sockets): the peer doc and the y-websocket server doc stay equal,
// client writes land with their WsOrigin, nothing echoes, and bind / rebind / stop / destroy leave
// the library's global `docs` map and both documents in the state they promise.
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

function bridge(extra: { beforeRebind?: () => void; onDocDestroyed?: () => void } = {}) {
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
  it('bind copies the peer doc into a fresh library doc and carries updates both ways without echo', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('before', 1);
    const before = docs.size;
    const { b } = bridge();
    b.bind(doc);
    expect(docs.size).toBe(before + 1);
    expect(b.doc).toBe(doc);
    const s = shared(b);
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

    // A client write reaches the peer doc with that connection's origin, once.
    const origin = b.originFor('127.0.0.1');
    expect(origin).toBeInstanceOf(WsOrigin);
    expect(origin.room).toBe('r');
    expect(origin.remote).toBe('127.0.0.1');
    expect(origin.connection).toBeGreaterThan(0);
    expect(b.originFor(undefined).connection).toBe(origin.connection + 1);
    s.transact(() => s.getMap('m').set('client', 4), new FakeConn(origin));
    expect(doc.getMap('m').get('client')).toBe(4);
    expect(docOrigins.at(-1)).toBe(origin);
    expect(docOrigins.length).toBe(3);
    expect(sharedOrigins.length).toBe(3);

    // A library-side write without a connection lands with the bridge's own origin.
    s.getMap('m').set('server', 5);
    const own = docOrigins.at(-1) as WsOrigin;
    expect(own).toBeInstanceOf(WsOrigin);
    expect(own.connection).toBe(0);
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(s));
    expect(docOrigins.length).toBe(4);
    expect(sharedOrigins.length).toBe(4);
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

    // The old doc is no longer carried, the new one is, both ways.
    d1.getMap('m').set('late', 1);
    expect(s2.getMap('m').has('late')).toBe(false);
    d2.getMap('m').set('now', 1);
    expect(s2.getMap('m').get('now')).toBe(1);
    s2.transact(() => s2.getMap('m').set('client', 1), new FakeConn(b.originFor(undefined)));
    expect(d2.getMap('m').get('client')).toBe(1);
    expect(d1.getMap('m').has('client')).toBe(false);
  });

  it('stop halts both directions and rebind; destroy frees the library doc, keeps the peer doc, and is idempotent', () => {
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
