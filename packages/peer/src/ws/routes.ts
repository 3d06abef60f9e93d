// The endpoint's HTTP surface: which plain requests and which websocket upgrades get what answer.
//   GET|HEAD /healthz      {"ok":true}, open to all (no token, no origin check)
//   GET|HEAD /status       opts.status() as JSON, when given
//   anything else          opts.httpHandler, then 426 on the room path, else 404
//   upgrade on /<room>     handed to the websocket server; other paths 404
// Every route but /healthz goes through the access policy first (401, then 403).

import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { respond } from '../http/respond.js';
import type { Logger } from '../logger.js';
import { decideAccess, type AccessRules } from './access.js';

export interface RouteContext {
  /** `/<room>`. */
  roomPath: string;
  access: AccessRules;
  logger: Logger;
  /** True once the endpoint is closing. */
  isClosed: () => boolean;
  status: (() => unknown) | undefined;
  httpHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>) | undefined;
  /** Completes an accepted upgrade. */
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

function parseUrl(req: http.IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

function sendText(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) + 1, ...extra });
  res.end(`${text}\n`);
}

async function onRequest(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const log = ctx.logger.log.bind(ctx.logger);
  const url = parseUrl(req);
  if (url === null) return sendText(res, 400, 'bad request');
  const isGet = req.method === 'GET' || req.method === 'HEAD';
  if (url.pathname === '/healthz') {
    if (!isGet) return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
    return respond(res, 200, { ok: true });
  }
  const access = decideAccess(ctx.access, url, req.headers);
  if (access.kind === 'unauthorized') {
    log('warn', 'http request refused: missing or wrong token', { path: url.pathname, remote: req.socket.remoteAddress });
    return sendText(res, 401, 'unauthorized', { 'www-authenticate': 'Bearer' });
  }
  if (access.kind === 'forbidden') {
    log('warn', 'http request refused', { path: url.pathname, reason: access.reason, remote: req.socket.remoteAddress });
    return sendText(res, 403, 'forbidden');
  }
  if (url.pathname === '/status' && ctx.status) {
    if (!isGet) return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
    return respond(res, 200, ctx.status() ?? null);
  }
  if (ctx.httpHandler) {
    const handled = await ctx.httpHandler(req, res);
    if (handled) return;
  }
  if (url.pathname === ctx.roomPath) return sendText(res, 426, 'upgrade required', { upgrade: 'websocket' });
  return sendText(res, 404, 'not found');
}

/** The server's 'request' listener: routes, and turns a failing route into a 500. */
export function requestListener(ctx: RouteContext): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    onRequest(ctx, req, res).catch((e: unknown) => {
      ctx.logger.log('error', 'http handler failed', { path: (req.url ?? '').split('?')[0], error: String(e) }); // never log the query: it may hold the token
      try {
        if (!res.headersSent) sendText(res, 500, 'internal error');
        else res.destroy();
      } catch {
        // ignore
      }
    });
  };
}

function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  try {
    if (socket.writable) {
      const text = `${body}\n`;
      socket.once('finish', () => socket.destroy());
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') +
          `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    } else {
      socket.destroy();
    }
  } catch {
    socket.destroy();
  }
}

/** The server's 'upgrade' listener: only the room path, past the access policy, becomes a websocket. */
export function upgradeListener(ctx: RouteContext): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  const log = ctx.logger.log.bind(ctx.logger);
  return (req, socket, head) => {
    socket.on('error', (e) => log('debug', 'ws upgrade socket error', { error: String(e) }));
    try {
      const remote = req.socket.remoteAddress;
      if (ctx.isClosed()) return refuseUpgrade(socket, 503, 'shutting down');
      const url = parseUrl(req);
      if (url === null) return refuseUpgrade(socket, 400, 'bad request');
      if (url.pathname !== ctx.roomPath) {
        log('info', 'ws upgrade refused: unknown room', { path: url.pathname, remote });
        return refuseUpgrade(socket, 404, 'not found');
      }
      const access = decideAccess(ctx.access, url, req.headers);
      if (access.kind === 'unauthorized') {
        log('warn', 'ws upgrade refused: missing or wrong token', { remote });
        return refuseUpgrade(socket, 401, 'unauthorized');
      }
      if (access.kind === 'forbidden') {
        log('warn', 'ws upgrade refused', { reason: access.reason, remote });
        return refuseUpgrade(socket, 403, 'forbidden');
      }
      ctx.upgrade(req, socket, head);
    } catch (e) {
      log('error', 'ws upgrade failed', { error: String(e) });
      socket.destroy();
    }
  };
}
