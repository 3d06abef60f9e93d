// The y-websocket endpoint serving the peer's document to stock clients: reads, writes with a
// WsOrigin, no echo through the bridge, pending updates, separate endpoints, and a document
// generation change (rebind: clients closed with 4000).
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { WsOrigin, WS_CLOSE_GENERATION } from '../src/ws-endpoint.js';
import { MeshOrigin } from '../src/sync.js';
import { client, closed, endpoint, raw, runCleanups, syncMessage, synced, until } from './ws-helpers.js';

afterEach(runCleanups);

describe('ws endpoint: serving the peer document', () => {
  it('a stock client reads the peer doc, its writes land with a WsOrigin, and peer writes reach it', async () => {
    const doc = new Y.Doc();
    doc.getMap('tasks').set('t1', { title: 'before connect' });
    doc.getText('notes').insert(0, 'hello');
    const { ep } = await endpoint({ doc });
    expect(ep.url).toBe(`ws://127.0.0.1:${ep.port}/agentmesh`);
    expect(ep.host).toBe('127.0.0.1');

    const origins: unknown[] = [];
    doc.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));

    const c = client(ep);
    await synced(c.provider);
    expect(c.doc.getMap('tasks').get('t1')).toEqual({ title: 'before connect' });
    expect(c.doc.getText('notes').toString()).toBe('hello');
    expect(ep.connections()).toBe(1);

    c.doc.getMap('tasks').set('t2', { title: 'from the browser' });
    await until(() => doc.getMap('tasks').has('t2'), 5000, 'client write on the peer doc');
    expect(doc.getMap('tasks').get('t2')).toEqual({ title: 'from the browser' });
    const wsOrigins = origins.filter((o) => o instanceof WsOrigin) as WsOrigin[];
    expect(wsOrigins.length).toBeGreaterThan(0);
    expect(wsOrigins[0]!.room).toBe('agentmesh');
    expect(wsOrigins[0]!.remote).toMatch(/127\.0\.0\.1/);

    // A local write and a "mesh" write on the peer doc after the client connected.
    doc.getMap('tasks').set('t3', { title: 'from the peer' });
    Y.applyUpdate(doc, (() => {
      const other = new Y.Doc();
      other.getMap('tasks').set('t4', { title: 'from the mesh' });
      return Y.encodeStateAsUpdate(other);
    })(), new MeshOrigin('p2'));
    await until(() => c.doc.getMap('tasks').has('t3') && c.doc.getMap('tasks').has('t4'), 5000, 'peer writes on the client');

    // Deletions travel both ways too.
    c.doc.getMap('tasks').delete('t1');
    await until(() => !doc.getMap('tasks').has('t1'), 5000, 'client delete on the peer doc');
    doc.getText('notes').delete(0, 5);
    await until(() => c.doc.getText('notes').toString() === '', 5000, 'peer delete on the client');
  });

  it('two clients see each other', async () => {
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc, room: 'team/board' });
    expect(ep.url.endsWith('/team/board')).toBe(true);
    const a = client(ep);
    const b = client(ep);
    await Promise.all([synced(a.provider), synced(b.provider)]);
    expect(ep.connections()).toBe(2);
    a.doc.getMap('tasks').set('a', 1);
    b.doc.getArray('log').push(['b']);
    await until(() => b.doc.getMap('tasks').get('a') === 1 && a.doc.getArray('log').length === 1, 5000, 'cross-client writes');
    expect(doc.getMap('tasks').get('a')).toBe(1);
    expect(doc.getArray('log').toArray()).toEqual(['b']);
    // Awareness passes through.
    a.provider.awareness.setLocalStateField('user', 'alice');
    await until(() => [...b.provider.awareness.getStates().values()].some((s) => s.user === 'alice'), 5000, 'awareness');
  });

  it('many edits stay converged and do not echo back into the peer doc', async () => {
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc });
    const c = client(ep);
    await synced(c.provider);
    let updates = 0;
    doc.on('update', () => updates++);
    for (let i = 0; i < 200; i++) c.doc.getMap('m').set(`k${i}`, i);
    for (let i = 0; i < 200; i++) doc.getMap('n').set(`k${i}`, i);
    await until(() => doc.getMap('m').size === 200 && c.doc.getMap('n').size === 200, 5000, 'convergence');
    await new Promise((r) => setTimeout(r, 50));
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(c.doc));
    // 200 client transactions + 200 local ones, each seen once (no loop through the bridge).
    expect(updates).toBe(400);
  });

  it('out-of-order updates that wait as pending on one side still cross the bridge once unblocked', async () => {
    // Two updates of one writer, the second depending on the first.
    const writer = new Y.Doc();
    writer.getText('t').insert(0, 'a');
    const sv1 = Y.encodeStateVector(writer);
    const first = Y.encodeStateAsUpdate(writer);
    writer.getText('t').insert(1, 'b');
    const second = Y.encodeStateAsUpdate(writer, sv1);

    // Case 1: the websocket side gets the dependent update first, the mesh the base one.
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc });
    const s = await raw(ep.url);
    s.ws.send(syncMessage(2, second));
    await new Promise((r) => setTimeout(r, 50));
    expect(doc.getText('t').toString()).toBe('');
    Y.applyUpdate(doc, first, new MeshOrigin('p2'));
    await until(() => doc.getText('t').toString() === 'ab', 5000, 'pending client update reaching the peer doc');

    // Case 2: the peer doc holds the dependent update (from the mesh), a client sends the base one.
    const doc2 = new Y.Doc();
    const { ep: ep2 } = await endpoint({ doc: doc2 });
    Y.applyUpdate(doc2, second, new MeshOrigin('p2'));
    const c = client(ep2);
    await synced(c.provider);
    const s2 = await raw(ep2.url);
    s2.ws.send(syncMessage(2, first));
    await until(() => doc2.getText('t').toString() === 'ab', 5000, 'peer doc unblocked');
    await until(() => c.doc.getText('t').toString() === 'ab', 5000, 'unblocked content reaching clients');
  });

  it('destroying the peer doc closes the endpoint', async () => {
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc });
    const s = await raw(ep.url);
    const code = closed(s.ws);
    doc.destroy();
    expect(await code).toBe(1001);
    await until(() => ep.connections() === 0, 5000, 'server side close');
  });

  it('endpoints in one process with the same room stay separate', async () => {
    const d1 = new Y.Doc();
    const d2 = new Y.Doc();
    const { ep: e1 } = await endpoint({ doc: d1 });
    const { ep: e2 } = await endpoint({ doc: d2 });
    const c1 = client(e1);
    const c2 = client(e2);
    await Promise.all([synced(c1.provider), synced(c2.provider)]);
    c1.doc.getMap('m').set('x', 1);
    await until(() => d1.getMap('m').get('x') === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(d2.getMap('m').has('x')).toBe(false);
    expect(c2.doc.getMap('m').has('x')).toBe(false);
  });
});

describe('ws endpoint: document generations', () => {
  it('rebind closes every client with 4000 and serves the next document from then on', async () => {
    const d1 = new Y.Doc();
    d1.getMap('m').set('gen', 1);
    const { ep } = await endpoint({ doc: d1 });
    const a = await raw(ep.url);
    const b = await raw(ep.url);
    const codes = Promise.all([closed(a.ws), closed(b.ws)]);
    await until(() => ep.connections() === 2, 5000, 'two connections');

    ep.rebind(d1); // the same document: nobody is closed
    const d2 = new Y.Doc();
    d2.getMap('m').set('gen', 2);
    ep.rebind(d2);
    expect(await codes).toEqual([WS_CLOSE_GENERATION, WS_CLOSE_GENERATION]);
    expect(WS_CLOSE_GENERATION).toBe(4000);
    await until(() => ep.connections() === 0, 5000, 'old clients gone');

    const c = client(ep);
    await synced(c.provider);
    expect(c.doc.getMap('m').get('gen')).toBe(2);
    c.doc.getMap('m').set('client', 1);
    await until(() => d2.getMap('m').get('client') === 1, 5000, 'client write on the new document');
    expect(d1.getMap('m').has('client')).toBe(false);
    d1.getMap('m').set('old', 1);
    d2.getMap('m').set('new', 1);
    await until(() => c.doc.getMap('m').get('new') === 1, 5000, 'new document writes on the client');
    expect(c.doc.getMap('m').has('old')).toBe(false);

    // After close, rebind does nothing (and does not throw).
    await ep.close();
    ep.rebind(new Y.Doc());
    expect(ep.connections()).toBe(0);
  });

  it('an update of an earlier generation is refused with 4000 and never reaches the document', async () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('keep', 1);
    const before = Y.encodeStateAsUpdate(doc);
    const seen: Uint8Array[] = [];
    const { ep, invalid, logs } = await endpoint({ doc, isStale: (u) => (seen.push(u), true) });
    const s = await raw(ep.url);
    // A state vector carries no update: not asked about, the connection stays.
    const got: Buffer[] = [];
    s.ws.on('message', (d: Buffer) => got.push(d));
    s.ws.send(syncMessage(0, Y.encodeStateVector(new Y.Doc())));
    await until(() => got.length > 0, 5000, 'step 2 reply');
    expect(seen.length).toBe(0);

    const old = new Y.Doc();
    old.getMap('m').set('stale', 1);
    const update = Y.encodeStateAsUpdate(old);
    s.ws.send(syncMessage(2, update));
    expect(await closed(s.ws)).toBe(4000);
    expect(seen.length).toBe(1);
    expect([...seen[0]!]).toEqual([...update]);
    expect(invalid).toEqual(['an update of an earlier document generation (reconnect with a fresh document)']);
    expect(logs.some((l) => l.level === 'warn' && l.msg === 'ws message rejected')).toBe(true);
    expect(Y.encodeStateAsUpdate(doc)).toEqual(before);
  });
});
