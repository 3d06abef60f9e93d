// Shared helpers of the ws-endpoint-*.test.ts files: stock clients only (y-websocket's
// WebsocketProvider over `ws` for the happy paths, raw `ws` sockets and plain HTTP for hostile
// input, auth and routing). Everything listens on 127.0.0.1 port 0, every wait is bounded, and every
// test closes what it opened: each test file runs `afterEach(runCleanups)`.
import * as http from 'node:http';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import { startWsEndpoint, type WsEndpoint, type WsEndpointOptions } from '../src/ws-endpoint.js';

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export type LogEntry = { level: string; msg: string; fields?: Record<string, unknown> };

export const cleanups: Array<() => unknown> = [];
export async function runCleanups(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

export async function endpoint(opts: Partial<WsEndpointOptions> & { doc: Y.Doc }) {
  const logs: LogEntry[] = [];
  const invalid: string[] = [];
  const ep = await startWsEndpoint({
    logger: { log: (level, msg, fields) => logs.push({ level, msg, fields }) },
    onInvalid: (r) => invalid.push(r),
    ...opts,
  });
  cleanups.push(() => ep.close());
  return { ep, logs, invalid };
}

export function client(ep: WsEndpoint, params: Record<string, string> = {}) {
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

export async function synced(provider: WebsocketProvider, ms = 5000): Promise<void> {
  await until(() => provider.synced, ms, 'provider sync');
}

/** A raw socket; resolves once open, or with the HTTP status of a refused upgrade. */
export function raw(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; status: number }> {
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

export function closed(ws: WebSocket, ms = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve(-1);
    const timer = setTimeout(() => reject(new Error('socket did not close')), ms);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

export function syncMessage(sub: number, payload: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  encoding.writeVarUint(enc, sub);
  encoding.writeVarUint8Array(enc, payload);
  return encoding.toUint8Array(enc);
}

export function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
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

export const httpUrl = (ep: WsEndpoint, path: string) => `http://127.0.0.1:${ep.port}${path}`;

/** Close codes a provider's connections ended with (y-websocket reconnects after each). */
export function closeCodes(provider: WebsocketProvider): number[] {
  const codes: number[] = [];
  provider.on('connection-close', (event) => {
    if (event) codes.push(event.code);
  });
  return codes;
}
