// The endpoint's second copy of the document (the y-websocket server doc) exists only while a
// client is connected: none before the first client, none after the last one has gone and the
// grace period has passed, no update listener on the peer doc meanwhile; a client that connects
// after many updates still gets the full state, and a generation change while nobody is connected
// still serves the next document.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { docs } from '@y/websocket-server/utils';
import { DEFAULT_WS_REPLICA_GRACE_MS } from '../src/ws-endpoint.js';
import { MeshOrigin } from '../src/sync.js';
import { client, endpoint, runCleanups, synced, until } from './ws-helpers.js';

afterEach(runCleanups);

/** The library's server docs of one room (their keys are `<room>#agentmesh-ws-…`). */
const serverDocs = (room: string) => [...docs.keys()].filter((k) => k.startsWith(`${room}#`));
/** Update listeners on a doc (lib0's ObservableV2 keeps them in `_observers`). */
const updateListeners = (d: Y.Doc): number => (d as unknown as { _observers: Map<string, Set<unknown>> })._observers.get('update')?.size ?? 0;

/** Same content and same history (the encoded states are byte-equal). */
const sameState = (a: Y.Doc, b: Y.Doc): boolean => Buffer.from(Y.encodeStateAsUpdate(a)).equals(Buffer.from(Y.encodeStateAsUpdate(b)));

function meshUpdate(key: string, value: number): Uint8Array {
  const other = new Y.Doc();
  other.getMap('tasks').set(key, value);
  return Y.encodeStateAsUpdate(other);
}

describe('ws endpoint: the server doc exists only while a client is connected', () => {
  it('no server doc and no listener until the first client, which gets the full state after many updates', async () => {
    expect(DEFAULT_WS_REPLICA_GRACE_MS).toBe(2000);
    const room = 'replica-a';
    const doc = new Y.Doc();
    const baseline = updateListeners(doc);
    const { ep } = await endpoint({ doc, room, replicaGraceMs: 150 });
    expect(serverDocs(room)).toEqual([]);
    expect(updateListeners(doc)).toBe(baseline);
    for (let i = 0; i < 2000; i++) doc.getMap('tasks').set(`t${i}`, i);
    for (let i = 0; i < 200; i++) Y.applyUpdate(doc, meshUpdate(`m${i}`, i), new MeshOrigin('p2'));
    doc.getMap('tasks').delete('t0');
    expect(serverDocs(room)).toEqual([]);
    expect(updateListeners(doc)).toBe(baseline);

    const c = client(ep);
    await synced(c.provider);
    expect(serverDocs(room).length).toBe(1);
    expect(c.doc.getMap('tasks').size).toBe(2199);
    expect(c.doc.getMap('tasks').has('t0')).toBe(false);
    expect(sameState(c.doc, doc)).toBe(true);

    // Live while connected (clients only read).
    doc.getMap('tasks').set('live', 1);
    doc.getMap('tasks').set('browser', 1);
    await until(() => c.doc.getMap('tasks').get('live') === 1 && c.doc.getMap('tasks').get('browser') === 1, 5000, 'live reads');

    // The last client leaves: the server doc lives through the grace period, then goes.
    c.provider.destroy();
    await until(() => ep.connections() === 0, 5000, 'client gone');
    const key = serverDocs(room)[0]!;
    expect(docs.has(key)).toBe(true);
    await until(() => serverDocs(room).length === 0, 5000, 'server doc dropped after the grace');
    expect(updateListeners(doc)).toBe(baseline);

    // Updates while nobody is connected; the next client still gets everything.
    for (let i = 0; i < 500; i++) doc.getMap('tasks').set(`late${i}`, i);
    const c2 = client(ep);
    await synced(c2.provider);
    expect(c2.doc.getMap('tasks').size).toBe(2199 + 2 + 500);
    expect(sameState(c2.doc, doc)).toBe(true);
    expect(serverDocs(room).length).toBe(1);
    expect(serverDocs(room)[0]).not.toBe(key);
  });

  it('a reconnect within the grace period reuses the server doc', async () => {
    const room = 'replica-b';
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc, room, replicaGraceMs: 60_000 });
    const a = client(ep);
    await synced(a.provider);
    const key = serverDocs(room)[0]!;
    a.provider.destroy();
    await until(() => ep.connections() === 0, 5000, 'client gone');
    doc.getMap('tasks').set('meanwhile', 1); // carried into the kept server doc
    const b = client(ep);
    await synced(b.provider);
    expect(serverDocs(room)).toEqual([key]);
    expect(b.doc.getMap('tasks').get('meanwhile')).toBe(1);
    // close() frees it even though its grace period has not run out.
    await ep.close();
    expect(serverDocs(room)).toEqual([]);
  });

  it('a generation change while nobody is connected creates no server doc; the next client gets the next document', async () => {
    const room = 'replica-c';
    const d1 = new Y.Doc();
    d1.getMap('m').set('gen', 1);
    const { ep } = await endpoint({ doc: d1, room, replicaGraceMs: 0 });
    const d2 = new Y.Doc();
    d2.getMap('m').set('gen', 2);
    ep.rebind(d2);
    expect(serverDocs(room)).toEqual([]);
    expect(updateListeners(d1)).toBe(0);
    expect(updateListeners(d2)).toBe(0);
    const c = client(ep);
    await synced(c.provider);
    expect(c.doc.getMap('m').get('gen')).toBe(2);
    d2.getMap('m').set('client', 1);
    await until(() => c.doc.getMap('m').get('client') === 1, 5000, 'new document writes on the client');
    expect(d1.getMap('m').has('client')).toBe(false);
    // graceMs 0: the server doc goes as soon as the client has.
    c.provider.destroy();
    await until(() => ep.connections() === 0 && serverDocs(room).length === 0, 5000, 'server doc dropped at once');
  });

  it('refuses a bad replicaGraceMs', async () => {
    await expect(endpoint({ doc: new Y.Doc(), replicaGraceMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
