// Closing the endpoint: clients, servers and timers all go, the peer document stays, and a process
// that used the endpoint exits by itself.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { docs } from '@y/websocket-server/utils';
import * as http from 'node:http';
import { KEEP_ALIVE_MS, startWsEndpoint } from '../src/ws-endpoint.js';
import { cleanups, client, closed, get, httpUrl, raw, runCleanups, synced, until } from './ws-helpers.js';

afterEach(runCleanups);

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
    expect(docs.size).toBe(docsBefore); // no server doc before the first client
    const a = client(ep);
    const b = client(ep);
    await Promise.all([synced(a.provider), synced(b.provider)]);
    expect(docs.size).toBe(docsBefore + 1);
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

  it('keeps idle keep-alive connections 65 s (not 5: a stalled loop reset them), and close() still ends them at once', async () => {
    const base = counts();
    const ep = await startWsEndpoint({ doc: new Y.Doc() });
    const agent = new http.Agent({ keepAlive: true });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(httpUrl(ep, '/healthz'), { agent }, resolve).on('error', reject));
    res.resume();
    await new Promise((r) => res.on('end', r));
    expect(res.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_MS / 1000}`);
    expect(counts().TCPSocketWrap ?? 0).toBeGreaterThan(base.TCPSocketWrap ?? 0); // the idle socket is open
    const t0 = Date.now();
    await ep.close();
    agent.destroy();
    expect(Date.now() - t0).toBeLessThan(KEEP_ALIVE_MS);
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
    // ws-endpoint.ts and every source module it reaches through relative value imports.
    const todo = ['ws-endpoint.ts'];
    const done = new Set<string>();
    while (todo.length > 0) {
      const rel = todo.pop()!;
      if (done.has(rel)) continue;
      done.add(rel);
      const out = ts.transpileModule(readFileSync(join(pkg, 'src', rel), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      });
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel.replace(/\.ts$/, '.js')), out.outputText);
      for (const m of out.outputText.matchAll(/from '(\.\.?\/[^']+)\.js'/g)) todo.push(posix.join(posix.dirname(rel), `${m[1]!}.ts`));
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
      doc.getMap('m').set('b', 2);
      while (!cdoc.getMap('m').has('b')) await new Promise((r) => setTimeout(r, 5));
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
