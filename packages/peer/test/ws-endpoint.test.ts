// The y-websocket endpoint with stock clients only: y-websocket's WebsocketProvider (over `ws`) for the
// happy paths, raw `ws` sockets and plain HTTP for hostile input, auth and routing. Everything listens
// on 127.0.0.1 port 0, every wait is bounded, and every test closes what it opened.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import { docs } from '@y/websocket-server/utils';
import { MeshError } from '@agentmesh/scheduler';
import { WsOrigin, inspectMessage, isLoopbackHost, startWsEndpoint, type WsEndpoint, type WsEndpointOptions } from '../src/ws-endpoint.js';
import { MeshOrigin } from '../src/sync.js';

async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type LogEntry = { level: string; msg: string; fields?: Record<string, unknown> };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function endpoint(opts: Partial<WsEndpointOptions> & { doc: Y.Doc }) {
  const logs: LogEntry[] = [];
  const invalid: string[] = [];
  const ep = await startWsEndpoint({
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    onInvalid: (r) => invalid.push(r),
    ...opts,
  });
  cleanups.push(() => ep.close());
  return { ep, logs, invalid };
}

function client(ep: WsEndpoint, params: Record<string, string> = {}) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(ep.serverUrl, ep.room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    // Node 20 has a global BroadcastChannel: without this, providers in one process would sync
    // through it and hide whether the server relays anything.
    disableBc: true,
    params,
  });
  cleanups.push(() => {
    provider.destroy();
    doc.destroy();
  });
  return { doc, provider };
}

async function synced(provider: WebsocketProvider, ms = 5000): Promise<void> {
  await until(() => provider.synced, ms, 'provider sync');
}

/** A raw socket; resolves once open, or with the HTTP status of a refused upgrade. */
function raw(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('raw socket timed out'));
    }, 5000);
    ws.on('error', () => {});
    ws.once('open', () => {
      clearTimeout(timer);
      cleanups.push(() => ws.terminate());
      resolve({ ws, status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      ws.terminate();
      resolve({ ws, status: res.statusCode ?? 0 });
    });
  });
}

function closed(ws: WebSocket, ms = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve(-1);
    const timer = setTimeout(() => reject(new Error('socket did not close')), ms);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function syncMessage(sub: number, payload: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint(enc, sub);
  encoding.writeVarUint8Array(enc, payload);
  return encoding.toUint8Array(enc);
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('http timeout')));
    req.on('error', reject);
    req.end();
  });
}

const httpUrl = (ep: WsEndpoint, path: string) => `http://127.0.0.1:${ep.port}${path}`;

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

describe('ws endpoint: hostile input', () => {
  it('garbage, bad updates, oversized and unknown messages are dropped without touching the doc', async () => {
    const consoleError = vi.spyOn(console, 'error');
    try {
      const doc = new Y.Doc();
      doc.getMap('tasks').set('t1', 'keep');
      const before = Y.encodeStateAsUpdate(doc);
      const { ep, logs, invalid } = await endpoint({ doc, maxMessageBytes: 64 * 1024 });

      // 1. garbage bytes
      let s = await raw(ep.url);
      s.ws.send(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
      expect(await closed(s.ws)).toBe(1008);
      expect(invalid.length).toBe(1);

      // 2. a sync update made of random bytes, and a step 2 made of random bytes
      s = await raw(ep.url);
      s.ws.send(syncMessage(2, Uint8Array.of(0, 2, 4, 0xde, 0xad, 0xbe, 0xef, 9, 9)));
      expect(await closed(s.ws)).toBe(1008);
      expect(invalid.at(-1)).toMatch(/malformed update/);
      s = await raw(ep.url);
      s.ws.send(syncMessage(1, Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7)));
      expect(await closed(s.ws)).toBe(1008);
      // a bad state vector in step 1 and an unknown sync sub-type
      s = await raw(ep.url);
      s.ws.send(syncMessage(0, Uint8Array.of(0xff)));
      expect(await closed(s.ws)).toBe(1008);
      s = await raw(ep.url);
      s.ws.send(syncMessage(9, new Uint8Array(0)));
      expect(await closed(s.ws)).toBe(1008);

      // 3. oversized
      s = await raw(ep.url);
      s.ws.send(syncMessage(2, new Uint8Array(100 * 1024)));
      expect(await closed(s.ws)).toBe(1009);
      expect(invalid.at(-1)).toMatch(/limit/);

      // 4. text frame
      s = await raw(ep.url);
      s.ws.send('hello');
      expect(await closed(s.ws)).toBe(1003);

      // 5. bad awareness payload
      s = await raw(ep.url);
      s.ws.send(Uint8Array.of(1, 3, 1, 5, 0));
      expect(await closed(s.ws)).toBe(1008);

      const invalidCount = invalid.length;
      expect(invalidCount).toBe(8);

      // 6. unknown message type: dropped and logged, the connection stays usable
      s = await raw(ep.url);
      const got: Uint8Array[] = [];
      s.ws.on('message', (d: Buffer) => got.push(new Uint8Array(d)));
      s.ws.send(Uint8Array.of(7, 1, 2, 3));
      s.ws.send(Uint8Array.of(3)); // query-awareness is not served either
      await until(() => logs.filter((l) => l.msg === 'ws message dropped').length === 2, 5000, 'drop logs');
      expect(invalid.length).toBe(invalidCount);
      const n = got.length;
      s.ws.send(syncMessage(0, Y.encodeStateVector(new Y.Doc())));
      await until(() => got.length > n, 5000, 'step 2 reply');
      expect(s.ws.readyState).toBe(WebSocket.OPEN);

      // 7. random fuzz, one message per socket
      for (let i = 0; i < 25; i++) {
        const f = await raw(ep.url);
        const bytes = Uint8Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (i * 131 + j * 17 + ((j * j) % 251)) & 0xff);
        bytes[0] = i % 3 === 0 ? 0 : bytes[0]!;
        f.ws.send(bytes);
        f.ws.close();
      }

      expect(logs.some((l) => l.level === 'warn' && l.msg === 'ws message rejected')).toBe(true);
      expect(Y.encodeStateAsUpdate(doc)).toEqual(before);
      expect(doc.getMap('tasks').toJSON()).toEqual({ t1: 'keep' });

      // A well-behaved client still works.
      const c = client(ep);
      await synced(c.provider);
      expect(c.doc.getMap('tasks').get('t1')).toBe('keep');
      c.doc.getMap('tasks').set('t2', 'ok');
      await until(() => doc.getMap('tasks').get('t2') === 'ok', 5000, 'good client write');
      // The library never had to catch anything.
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
  });

  it('inspectMessage classifies messages', () => {
    const good = new Y.Doc();
    good.getMap('m').set('a', 1);
    expect(inspectMessage(syncMessage(2, Y.encodeStateAsUpdate(good)))).toMatchObject({ kind: 'ok' });
    expect(inspectMessage(syncMessage(1, Y.encodeStateAsUpdate(good)))).toMatchObject({ kind: 'ok' });
    expect(inspectMessage(syncMessage(0, Y.encodeStateVector(good)))).toEqual({ kind: 'ok' });
    expect(inspectMessage(new Uint8Array(0)).kind).toBe('invalid');
    expect(inspectMessage(Uint8Array.of(2, 0)).kind).toBe('ignore');
    const withTrailing = new Uint8Array([...syncMessage(0, Y.encodeStateVector(good)), 0]);
    expect(inspectMessage(withTrailing).kind).toBe('invalid');
  });
});

describe('ws endpoint: access', () => {
  it('refuses to listen beyond loopback without a token, before listening', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      const err = await startWsEndpoint({ doc: new Y.Doc(), host }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).code).toBe('INVALID_ARGUMENT');
      expect((err as MeshError).message).toBe('a --ws-token is required when the websocket endpoint listens beyond loopback');
    }
    for (const bad of [{ port: -1 }, { port: 1.5 }, { room: '' }, { room: '../x' }, { room: 'a b' }, { maxMessageBytes: 0 }, { token: '' }]) {
      await expect(startWsEndpoint({ doc: new Y.Doc(), ...bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.9.8.7')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('0:0:0:0:0:0:0:1')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('::')).toBe(false);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.evil.com')).toBe(false);
  });

  it('with a token: no token or a wrong one gets 401, the right one syncs', async () => {
    const doc = new Y.Doc();
    doc.getMap('tasks').set('t', 1);
    const { ep, logs } = await endpoint({ doc, token: 's3cret', status: () => ({ peers: 1 }) });
    expect((await raw(ep.url)).status).toBe(401);
    expect((await raw(`${ep.url}?token=nope`)).status).toBe(401);
    expect((await raw(ep.url, { authorization: 'Bearer nope' })).status).toBe(401);
    expect(logs.some((l) => l.level === 'warn' && /token/.test(l.msg))).toBe(true);
    expect(ep.connections()).toBe(0);

    const bearer = await raw(ep.url, { authorization: 'Bearer s3cret' });
    expect(bearer.status).toBe(101);
    bearer.ws.close();

    const c = client(ep, { token: 's3cret' });
    await synced(c.provider);
    expect(c.doc.getMap('tasks').get('t')).toBe(1);

    // HTTP: /healthz stays open, everything else wants the token.
    expect((await get(httpUrl(ep, '/healthz'))).status).toBe(200);
    expect((await get(httpUrl(ep, '/status'))).status).toBe(401);
    expect((await get(httpUrl(ep, '/status?token=s3cret'))).body).toBe('{"peers":1}');
    expect((await get(httpUrl(ep, '/status'), { authorization: 'Bearer s3cret' })).status).toBe(200);
    expect((await get(httpUrl(ep, '/nothing'))).status).toBe(401);
  });

  it('without a token: foreign browser origins and DNS-rebound host names get 403', async () => {
    const { ep } = await endpoint({ doc: new Y.Doc(), status: () => ({}), allowedOrigins: ['http://dash.example'] });
    expect((await raw(ep.url, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await raw(ep.url, { origin: 'null' })).status).toBe(403);
    expect((await raw(ep.url, { host: `evil.example:${ep.port}` })).status).toBe(403);
    expect((await raw(ep.url, { origin: 'http://localhost:5173' })).status).toBe(101);
    expect((await raw(ep.url, { origin: 'http://dash.example' })).status).toBe(101);
    expect((await get(httpUrl(ep, '/status'), { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(httpUrl(ep, '/status'), { host: 'evil.example' })).status).toBe(403);
    expect((await get(httpUrl(ep, '/status'))).status).toBe(200);
  });
});

describe('ws endpoint: http', () => {
  it('serves /healthz, /status, extra routes, and 404s the rest', async () => {
    let n = 0;
    const { ep, logs } = await endpoint({
      doc: new Y.Doc(),
      status: () => ({ calls: ++n, ok: 'yes' }),
      httpHandler: (req, res) => {
        if (req.url === '/dashboard/') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<h1>dash</h1>');
          return true;
        }
        if (req.url === '/boom') throw new Error('handler blew up');
        if (req.url === '/late') {
          return new Promise<boolean>((resolve) =>
            setTimeout(() => {
              res.end('late');
              resolve(true);
            }, 5),
          );
        }
        return false;
      },
    });
    const h = await get(httpUrl(ep, '/healthz'));
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body)).toEqual({ ok: true });
    const s = await get(httpUrl(ep, '/status'));
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(s.body)).toEqual({ calls: 1, ok: 'yes' });
    expect((await get(httpUrl(ep, '/status'), {}, 'POST')).status).toBe(405);
    expect((await get(httpUrl(ep, '/dashboard/'))).body).toBe('<h1>dash</h1>');
    expect((await get(httpUrl(ep, '/late'))).body).toBe('late');
    expect((await get(httpUrl(ep, '/boom'))).status).toBe(500);
    expect(logs.some((l) => l.level === 'error' && l.msg === 'http handler failed')).toBe(true);
    expect((await get(httpUrl(ep, '/nope'))).status).toBe(404);
    expect((await get(httpUrl(ep, '/agentmesh'))).status).toBe(426);
    // Websocket upgrades to another path are refused.
    expect((await raw(`ws://127.0.0.1:${ep.port}/other-room`)).status).toBe(404);
    expect((await raw(`ws://127.0.0.1:${ep.port}/`)).status).toBe(404);
    expect((await raw(`ws://127.0.0.1:${ep.port}/agentmesh/x`)).status).toBe(404);
    // Still alive.
    expect((await get(httpUrl(ep, '/healthz'))).status).toBe(200);
  });

  it('without a status function /status is 404', async () => {
    const { ep } = await endpoint({ doc: new Y.Doc() });
    expect((await get(httpUrl(ep, '/status'))).status).toBe(404);
  });

  it('a status function that throws gives 500', async () => {
    const { ep } = await endpoint({
      doc: new Y.Doc(),
      status: () => {
        throw new Error('nope');
      },
    });
    expect((await get(httpUrl(ep, '/status'))).status).toBe(500);
    expect((await get(httpUrl(ep, '/healthz'))).status).toBe(200);
  });
});

describe('ws endpoint: close', () => {
  const counts = () => {
    const c: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) c[r] = (c[r] ?? 0) + 1;
    return c;
  };
  const settled = (base: Record<string, number>) => () => {
    const now = counts();
    return ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'].every((k) => (now[k] ?? 0) <= (base[k] ?? 0));
  };

  it('closes clients, servers and timers, keeps the peer doc, and is idempotent', async () => {
    const base = counts();
    const docsBefore = docs.size;
    const doc = new Y.Doc();
    const ep = await startWsEndpoint({ doc });
    expect(docs.size).toBe(docsBefore + 1);
    const a = client(ep);
    const b = client(ep);
    await Promise.all([synced(a.provider), synced(b.provider)]);
    a.provider.awareness.setLocalStateField('user', 'a');
    const r = await raw(ep.url);
    expect(ep.connections()).toBe(3);

    const rawClosed = closed(r.ws);
    const p1 = ep.close();
    const p2 = ep.close();
    expect(p2).toBe(p1);
    await p1;
    expect(await rawClosed).toBe(1001);
    expect(ep.connections()).toBe(0);
    expect(docs.size).toBe(docsBefore);
    await ep.close();

    // The peer doc is untouched and still live.
    doc.getMap('m').set('after', 1);
    expect(doc.getMap('m').get('after')).toBe(1);
    expect((await get(httpUrl(ep, '/healthz')).catch((e: Error) => e)) instanceof Error).toBe(true);

    // Stop the clients from reconnecting, then every socket, server and timer must be gone.
    cleanups.splice(0).reverse().forEach((f) => f());
    await until(settled(base), 5000, 'handles to drain');
  });

  it('a process that used the endpoint exits by itself after close()', async () => {
    // The child runs the current source, transpiled here (no dependency on a fresh dist/), from a
    // scratch folder inside this package's node_modules so its bare imports resolve as they do here.
    const ts = (await import('typescript')).default;
    const pkg = fileURLToPath(new URL('..', import.meta.url));
    const dir = join(pkg, 'node_modules', '.cache', `ws-endpoint-exit-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    for (const name of ['ws-endpoint', 'sync']) {
      const out = ts.transpileModule(readFileSync(join(pkg, 'src', `${name}.ts`), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      });
      writeFileSync(join(dir, `${name}.js`), out.outputText);
    }
    const script = `
      import * as Y from 'yjs';
      import { WebSocket } from 'ws';
      import { WebsocketProvider } from 'y-websocket';
      import { startWsEndpoint } from './ws-endpoint.js';
      const doc = new Y.Doc();
      doc.getMap('m').set('a', 1);
      const ep = await startWsEndpoint({ doc });
      const cdoc = new Y.Doc();
      const p = new WebsocketProvider(ep.serverUrl, ep.room, cdoc, { WebSocketPolyfill: WebSocket, disableBc: true });
      await new Promise((r) => p.once('sync', r));
      cdoc.getMap('m').set('b', 2);
      while (!doc.getMap('m').has('b')) await new Promise((r) => setTimeout(r, 5));
      await ep.close();
      p.destroy();
      cdoc.destroy(); // the client's awareness keeps an interval of its own until its doc is destroyed
      console.log('closed');
    `;
    const t0 = Date.now();
    writeFileSync(join(dir, 'main.js'), script);
    const child = spawn(process.execPath, [join(dir, 'main.js')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 10_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out).toContain('closed');
    expect(code).toBe(0);
    // The client's reconnect backoff timer (at most a few hundred ms) is the only thing left to run.
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
