// The y-websocket endpoint serving the peer's document to stock clients: live reads, client writes
// refused (4001) without reaching the document or another client, pending updates, separate
// endpoints, and a document generation change (rebind: clients closed with 4000).
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { WS_CLOSE_GENERATION, WS_CLOSE_READ_ONLY } from '../src/ws-endpoint.js';
import { MeshOrigin } from '../src/sync.js';
import { client, closeCodes, closed, endpoint, raw, runCleanups, syncMessage, synced, until } from './ws-helpers.js';

afterEach(runCleanups);

describe('ws endpoint: serving the peer document', () => {
  it('a stock client reads the peer doc live; its writes and deletes are refused with 4001 and never land', async () => {
    const doc = new Y.Doc();
    doc.getMap('tasks').set('t1', { title: 'before connect' });
    doc.getText('notes').insert(0, 'hello');
    doc.getMap('tasks').set('gone', 1);
    doc.getMap('tasks').delete('gone'); // a delete set the client receives and echoes back: a no-op
    const { ep, logs, invalid } = await endpoint({ doc });
    expect(ep.url).toBe(`ws://127.0.0.1:${ep.port}/agentmesh`);
    expect(ep.host).toBe('127.0.0.1');

    const c = client(ep);
    const codes = closeCodes(c.provider);
    await synced(c.provider);
    expect(c.doc.getMap('tasks').get('t1')).toEqual({ title: 'before connect' });
    expect(c.doc.getText('notes').toString()).toBe('hello');
    expect(ep.connections()).toBe(1);

    // A local write and a "mesh" write on the peer doc after the client connected.
    doc.getMap('tasks').set('t3', { title: 'from the peer' });
    Y.applyUpdate(doc, (() => {
      const other = new Y.Doc();
      other.getMap('tasks').set('t4', { title: 'from the mesh' });
      return Y.encodeStateAsUpdate(other);
    })(), new MeshOrigin('p2'));
    await until(() => c.doc.getMap('tasks').has('t3') && c.doc.getMap('tasks').has('t4'), 5000, 'peer writes on the client');
    doc.getText('notes').delete(0, 5);
    await until(() => c.doc.getText('notes').toString() === '', 5000, 'peer delete on the client');
    await new Promise((r) => setTimeout(r, 50));
    expect(codes).toEqual([]); // reading (and the client's no-op step 2s) never closed it
    const before = Y.encodeStateAsUpdate(doc);

    // A delete of an existing task: refused, closed with 4001, logged; the peer doc keeps it.
    expect(WS_CLOSE_READ_ONLY).toBe(4001);
    c.doc.getMap('tasks').delete('t1');
    await until(() => codes.includes(WS_CLOSE_READ_ONLY), 5000, 'delete refused');
    expect(doc.getMap('tasks').get('t1')).toEqual({ title: 'before connect' });
    expect(invalid.at(-1)).toMatch(/clients are read-only/);
    expect(logs.some((l) => l.level === 'warn' && l.msg === 'ws message rejected' && /deletes content/.test(String(l.fields?.reason)))).toBe(true);

    // A new entry and a generation marker: refused too.
    const d = client(ep);
    const dCodes = closeCodes(d.provider);
    await synced(d.provider);
    d.doc.getMap('meta').set('gen:999.1.0.evil', true);
    d.doc.getMap('tasks').set('t2', { title: 'from the browser' });
    await until(() => dCodes.includes(WS_CLOSE_READ_ONLY), 5000, 'write refused');
    expect(logs.some((l) => l.msg === 'ws message rejected' && /adds content/.test(String(l.fields?.reason)))).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.from(Y.encodeStateAsUpdate(doc)).equals(Buffer.from(before))).toBe(true);
    expect(doc.getMap('meta').size).toBe(0);
  });

  it('two clients read the same document; one client\'s write never reaches the other', async () => {
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc, room: 'team/board' });
    expect(ep.url.endsWith('/team/board')).toBe(true);
    const a = client(ep);
    const b = client(ep);
    await Promise.all([synced(a.provider), synced(b.provider)]);
    expect(ep.connections()).toBe(2);
    doc.getMap('tasks').set('a', 1);
    await until(() => b.doc.getMap('tasks').get('a') === 1 && a.doc.getMap('tasks').get('a') === 1, 5000, 'both read');
    const aCodes = closeCodes(a.provider);
    a.doc.getArray('log').push(['a']);
    await until(() => aCodes.includes(WS_CLOSE_READ_ONLY), 5000, 'write refused');
    await new Promise((r) => setTimeout(r, 50));
    expect(b.doc.getArray('log').length).toBe(0);
    expect(doc.getArray('log').length).toBe(0);
    // Awareness passes through.
    b.provider.awareness.setLocalStateField('user', 'bob');
    const c = client(ep);
    await synced(c.provider);
    await until(() => [...c.provider.awareness.getStates().values()].some((s) => s.user === 'bob'), 5000, 'awareness');
  });

  it('many peer edits reach the client once each and never echo back into the peer doc', async () => {
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc });
    const c = client(ep);
    await synced(c.provider);
    let updates = 0;
    doc.on('update', () => updates++);
    for (let i = 0; i < 200; i++) doc.getMap('n').set(`k${i}`, i);
    await until(() => c.doc.getMap('n').size === 200, 5000, 'convergence');
    await new Promise((r) => setTimeout(r, 50));
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(c.doc));
    expect(updates).toBe(200);
  });

  it('a client update the peer doc lacks is refused even when it would unblock pending content; pending content still reaches clients once unblocked', async () => {
    // Two updates of one writer, the second depending on the first.
    const writer = new Y.Doc();
    writer.getText('t').insert(0, 'a');
    const sv1 = Y.encodeStateVector(writer);
    const first = Y.encodeStateAsUpdate(writer);
    writer.getText('t').insert(1, 'b');
    const second = Y.encodeStateAsUpdate(writer, sv1);

    // The peer doc holds the dependent update (from the mesh) as pending; a client sends the base one.
    const doc = new Y.Doc();
    const { ep } = await endpoint({ doc });
    Y.applyUpdate(doc, second, new MeshOrigin('p2'));
    const c = client(ep);
    await synced(c.provider);
    const s = await raw(ep.url);
    s.ws.send(syncMessage(2, first));
    expect(await closed(s.ws)).toBe(WS_CLOSE_READ_ONLY);
    expect(doc.getText('t').toString()).toBe('');
    // The client echoing back the pending part it got from us is a no-op, not a write.
    const s2 = await raw(ep.url);
    s2.ws.send(syncMessage(2, second));
    await new Promise((r) => setTimeout(r, 100));
    expect(s2.ws.readyState).toBe(1);
    // The mesh delivers the base update: the peer doc unblocks and clients get it all.
    Y.applyUpdate(doc, first, new MeshOrigin('p3'));
    expect(doc.getText('t').toString()).toBe('ab');
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
    d1.getMap('m').set('x', 1);
    await until(() => c1.doc.getMap('m').get('x') === 1);
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
