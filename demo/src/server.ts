// The demo's one HTTP server on 127.0.0.1: the dashboard's static files (the vite build in
// demo/dist-web) and the small control API the page's buttons call. The page reads the mesh itself
// (its own Yjs replica over a peer's websocket); this API only does what a page cannot: start
// processes, kill them, cut the network, and feed scenarios through the peers' HTTP API.
//
//   GET  /demo/peers       the peers: names, ids, websocket URLs, process state, partition
//   GET  /demo/status      the above plus every live peer's own /api/status (who sees whom)
//   POST /demo/kill        {"name":"P2"}                       SIGKILL
//   POST /demo/restart     {"name":"P2"}                       same data dir, same peer id
//   POST /demo/partition   {"groups":[["P1","P2"],["P3"]]}     both ends of every cut block
//   POST /demo/heal
//   POST /demo/scenario    {"kind":"traffic","rate":20,"seconds":10,"peer"?:"P1","seed"?:1,"faulty"?:0.05}
//   GET  /demo/scenarios   the scenario runs and their progress
//   GET|POST /demo/peer/P2/api/...   passed on to that peer's own HTTP API (task lists, task
//                          pages, retry, cancel, metrics, shared data), so the page needs no CORS

import { createReadStream, existsSync, statSync } from 'node:fs';
import * as http from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { HttpError, readJsonBody, respond } from '@agentmesh/peer/node';
import type { LocalMesh } from './mesh.js';
import { parseScenario, ScenarioRunner, type ScenarioKind, type ScenarioTaskInput } from './scenarios.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

const readBody = (req: http.IncomingMessage): Promise<unknown> => readJsonBody(req, 1 << 20);

function nameOf(body: unknown): string {
  const n = (body as { name?: unknown } | null)?.name;
  if (typeof n !== 'string' || n === '') throw new HttpError(400, 'name must be a peer name, e.g. {"name":"P2"}');
  return n;
}

export interface DemoServerOptions {
  mesh: LocalMesh;
  webRoot: string;
  log: (msg: string) => void;
}

export class DemoServer {
  readonly server: http.Server;
  private readonly scenarios: ScenarioRunner[] = [];
  private readonly nextTask: Record<ScenarioKind, number> = { traffic: 0, factory: 0, clinic: 0 };
  private scenarioSeq = 0;

  constructor(private readonly opts: DemoServerOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (res.headersSent) return res.destroy();
        if (e instanceof HttpError) respond(res, e.status, { error: e.message });
        else respond(res, 500, { error: (e as Error).message ?? String(e) });
      });
    });
  }

  /** Listens on 127.0.0.1:port; a busy port falls back to any free one unless `strict`. */
  async listen(port: number, strict = false): Promise<number> {
    const tryPort = (p: number) =>
      new Promise<void>((resolve, reject) => {
        const onErr = (e: Error) => reject(e);
        this.server.once('error', onErr);
        this.server.listen(p, '127.0.0.1', () => {
          this.server.off('error', onErr);
          resolve();
        });
      });
    try {
      await tryPort(port);
    } catch (e) {
      if (strict || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      this.opts.log(`port ${port} is busy; using a free port instead`);
      await tryPort(0);
    }
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : port;
  }

  async close(): Promise<void> {
    await Promise.all(this.scenarios.map((s) => s.stop()));
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    // Loopback names only (no DNS rebinding), and only pages of this server (or no browser at all)
    // may drive the controls: a web page the user happens to visit must not kill their peers.
    const host = req.headers.host ?? '';
    if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i.test(host)) throw new HttpError(403, 'forbidden host');
    if (url.pathname.startsWith('/demo/')) {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${host}`) throw new HttpError(403, 'foreign origin');
      const proxied = /^\/demo\/peer\/([^/]+)(\/(?:api\/.*|metrics))$/.exec(url.pathname);
      if (proxied) return this.proxy(method, decodeURIComponent(proxied[1]!), proxied[2]! + url.search, req, res);
      return this.api(method, url.pathname, req, res);
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    return this.serveStatic(url.pathname, res, method === 'HEAD');
  }

  private async api(method: string, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { mesh } = this.opts;
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /demo/peers':
        return respond(res, 200, { peers: mesh.info(), partition: mesh.partition });
      case 'GET /demo/status':
        return respond(res, 200, { peers: mesh.info(), partition: mesh.partition, status: await mesh.statuses(), lastKnown: mesh.lastKnownStatus(), at: Date.now() });
      case 'POST /demo/kill': {
        const name = nameOf(await readBody(req));
        await this.wrap(() => mesh.kill(name));
        return respond(res, 200, { ok: true, message: `${name} killed (SIGKILL)`, peers: mesh.info() });
      }
      case 'POST /demo/restart': {
        const name = nameOf(await readBody(req));
        const t0 = Date.now();
        await this.wrap(() => mesh.restart(name));
        const p = mesh.get(name)!;
        return respond(res, 200, { ok: true, message: `${name} restarted in ${Date.now() - t0} ms (same peer id ${p.peerId.slice(-8)})`, peers: mesh.info() });
      }
      case 'POST /demo/partition': {
        const groups = (await readBody(req) as { groups?: unknown }).groups;
        if (!Array.isArray(groups) || !groups.every((g) => Array.isArray(g) && g.every((n) => typeof n === 'string'))) {
          throw new HttpError(400, 'groups must be a list of lists of peer names, e.g. {"groups":[["P1","P2"],["P3"]]}');
        }
        await this.wrap(() => mesh.setPartition(groups as string[][]));
        const text = mesh.partition!.map((g) => g.join(' ')).join(' | ');
        return respond(res, 200, { ok: true, message: `partitioned: ${text}`, partition: mesh.partition, peers: mesh.info() });
      }
      case 'POST /demo/heal':
        await this.wrap(() => mesh.heal());
        return respond(res, 200, { ok: true, message: 'healed: every peer may reach every other', peers: mesh.info() });
      case 'POST /demo/scenario': {
        const req2 = parseScenario(await readBody(req));
        if (typeof req2 === 'string') throw new HttpError(400, req2);
        if (req2.peer !== undefined && !mesh.get(req2.peer)) throw new HttpError(400, `no peer named ${JSON.stringify(req2.peer)}`);
        const id = `s${++this.scenarioSeq}`;
        const targets = () =>
          mesh
            .live()
            .filter((p) => req2.peer === undefined || p.name === req2.peer)
            .map((p) => ({ name: p.name, submit: (tasks: ScenarioTaskInput[]) => mesh.submit(p.name, tasks).then(() => {}) }));
        const run = new ScenarioRunner(id, req2, this.nextTask[req2.kind], targets, this.opts.log);
        this.nextTask[req2.kind] += run.total;
        this.scenarios.push(run);
        if (this.scenarios.length > 50) this.scenarios.splice(0, this.scenarios.length - 50);
        void run.start();
        const where = req2.peer ? `to ${req2.peer}` : 'round-robin over the live peers';
        const faulty = req2.faulty ? `, ${Math.round(req2.faulty * 100)}% faulty` : '';
        return respond(res, 200, { ok: true, id, total: run.total, message: `${id}: ${run.total} ${req2.kind} tasks at ${req2.rate}/s for ${req2.seconds} s${faulty}, ${where}` });
      }
      case 'GET /demo/scenarios':
        return respond(res, 200, { scenarios: this.scenarios.map((s) => ({ ...s.state, total: s.total })) });
      default:
        throw new HttpError(404, `no route ${route}`);
    }
  }

  /** Passes a request on to a running peer's own API and its answer back. */
  private async proxy(method: string, name: string, path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (method !== 'GET' && method !== 'POST') throw new HttpError(405, 'method not allowed');
    const p = this.opts.mesh.get(name);
    if (!p) throw new HttpError(404, `no peer named ${JSON.stringify(name)}`);
    if (p.state !== 'running') throw new HttpError(503, `${name} is not running (${p.state})`);
    const body = method === 'POST' ? JSON.stringify(await readBody(req)) : undefined;
    let answer: Response;
    try {
      answer = await fetch(`${p.httpUrl}${path}`, { method, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}), signal: AbortSignal.timeout(method === 'POST' ? 60_000 : 8000) });
    } catch (e) {
      throw new HttpError(502, `${name} did not answer: ${(e as Error).message}`);
    }
    const text = await answer.text();
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw e instanceof HttpError ? e : new HttpError(409, (e as Error).message);
    }
  }

  private serveStatic(pathname: string, res: http.ServerResponse, head: boolean): void {
    const root = this.opts.webRoot;
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, 'bad path');
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) throw new HttpError(403, 'forbidden');
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (!existsSync(join(root, 'index.html'))) {
        throw new HttpError(500, `the dashboard is not built (${root} is missing); run: npx -y pnpm@12.4.2 run build:web`);
      }
      throw new HttpError(404, `not found: ${pathname}`);
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, { 'content-type': type, 'content-length': statSync(file).size, 'cache-control': cache });
    if (head) return void res.end();
    createReadStream(file).pipe(res);
  }
}
