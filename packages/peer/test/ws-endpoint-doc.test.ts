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
