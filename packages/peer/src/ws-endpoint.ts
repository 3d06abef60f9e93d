// The browser / y-websocket endpoint: any stock Yjs client (y-websocket's WebsocketProvider in a
// dashboard or a script) connects to ws://host:port/<room> and reads and writes this peer's replica.
//
// Doc binding (a bridge, not a registration): @y/websocket-server keeps its documents in the global
// `docs` map as WSSharedDoc instances. Its per-doc behaviour (broadcast on 'update', the awareness
// instance, the `conns` map) is wired inside the WSSharedDoc constructor with module-private
// handlers, so the peer's own Y.Doc cannot be registered there without grafting those internals
// onto it. Instead we construct a WSSharedDoc ourselves, register it under a key unique to this
// endpoint (several endpoints may share one process and one room name), pass that key as `docName`
// to setupWSConnection, and bridge it to `opts.doc` with updates in both directions:
//   - websocket writes reach opts.doc with a `WsOrigin` (one per connection), so the peer's sync
//     engine forwards them to the mesh like local writes;
//   - every other opts.doc update (mesh, local, storage) is applied to the shared doc at once with a
//     private origin, and the library broadcasts it to every client in the same tick.
// Echoes are cut by origin; when the target held pending (out-of-order) structs before the apply,
// the echo is forwarded anyway, since it may carry content the other side never saw. Costs: a
// second in-memory copy of the document, and each update is integrated twice.
//
// Validation happens before the library sees a message: we hand setupWSConnection a small facade
// instead of the socket and only re-emit 'message' for messages that pass. Oversized, undecodable or
// malformed messages (bad update per checkUpdate, bad state vector, bad awareness, text frames) are
// dropped, logged at warn, reported through onInvalid, and the connection is closed (1008, or 1009
// for size): a client whose update was dropped is diverged anyway, and y-websocket reconnects and
// resyncs. Unknown outer message types (auth, query-awareness) are dropped with a log line and the
// connection stays. Nothing a client sends can throw out of this module.
//
// Security: loopback by default; beyond loopback a token is mandatory. With a token, every route
// except /healthz wants it (`?token=` or `Authorization: Bearer`). Without a token (loopback only),
// requests whose Host header is not a loopback name (DNS rebinding) or whose Origin is not a
// loopback origin or listed in `allowedOrigins` (a web page the user happens to visit) get 403.

import { createHash, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { WSSharedDoc, docs, getPersistence, setPersistence, setupWSConnection } from '@y/websocket-server/utils';
import { MeshError } from '@agentmesh/scheduler';
import type { LogLevel } from './logger.js';
import { MESSAGE_SYNC, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE, checkUpdate } from './sync.js';

/** y-websocket's outer message type for awareness messages. */
export const MESSAGE_AWARENESS = 1;
export const DEFAULT_WS_ROOM = 'agentmesh';
export const DEFAULT_WS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const TOKEN_REQUIRED = 'a --ws-token is required when the websocket endpoint listens beyond loopback';
/** How long close() waits for clients to answer a close frame before it cuts them off. */
const CLOSE_GRACE_MS = 500;
/** After a rejected message, how long the offender gets to answer our close frame. */
const REJECT_GRACE_MS = 1000;
/** Unknown message types logged per connection before going quiet. */
const UNKNOWN_LOG_LIMIT = 3;

/** Origin of updates that websocket clients wrote into the peer's document (one per connection). */
export class WsOrigin {
  constructor(
    /** Connection number, unique in this process. */
    readonly connection: number,
    /** Remote address of the client, when known. */
    readonly remote: string | undefined,
    readonly room: string,
  ) {}
}

export interface WsEndpointOptions {
  doc: Y.Doc;
  /** Default 127.0.0.1. Anything beyond loopback needs `token`. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default 'agentmesh'. Letters, digits, `._~-`, segments separated by `/`. */
  room?: string;
  token?: string;
  /** Default 16 MiB. */
  maxMessageBytes?: number;
  log?: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;
  /** Called once for every message rejected as invalid. */
  onInvalid?: (reason: string) => void;
  /** Body of GET /status (JSON). Without it /status falls through to httpHandler / 404. */
  status?: () => unknown;
  /** Extra HTTP routes on the same port, asked after /healthz and /status; return true when handled. */
  httpHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
  /**
   * Browser origins (e.g. 'http://dashboard.example:8080', or 'null' for file:// pages) allowed when
   * no token is set, besides loopback origins. Ignored with a token: the token is the gate then.
   */
  allowedOrigins?: string[];
  /**
   * True for an update that belongs to an earlier document generation (a client that kept its old
   * document across a generation change): it is refused and the client told to start afresh (4000).
   */
  isStale?: (update: Uint8Array) => boolean;
}

/** Close code sent to websocket clients when the peer moved to a new document generation. */
export const WS_CLOSE_GENERATION = 4000;

export interface WsEndpoint {
  /** ws://host:port/room (a connectable host when bound to a wildcard address). */
  url: string;
  /** ws://host:port: what y-websocket's WebsocketProvider takes, with `room` as its room name. */
  serverUrl: string;
  room: string;
  port: number;
  host: string;
  /** Open websocket connections. */
  connections(): number;
  /**
   * Serves another document from now on (the peer's next generation): every client is closed with
   * code 4000 and must reconnect with a fresh Y.Doc; updates of the old document are refused.
   */
  rebind(doc: Y.Doc): void;
  close(): Promise<void>;
}

type Verdict = { kind: 'ok'; update?: Uint8Array } | { kind: 'invalid'; reason: string } | { kind: 'ignore'; reason: string };

let endpointSeq = 0;
let connectionSeq = 0;

/** What setupWSConnection gets instead of the socket: it only ever sees validated messages. */
class LibConn extends EventEmitter {
  binaryType = 'arraybuffer';
  constructor(
    private readonly ws: WebSocket,
    readonly origin: WsOrigin,
    private readonly onSendError: (err: unknown) => void,
  ) {
    super();
  }
  get readyState(): number {
    return this.ws.readyState;
  }
  send(data: Uint8Array, _opts?: unknown, cb?: (err?: Error) => void): void {
    try {
      this.ws.send(data, { binary: true }, cb);
    } catch (e) {
      this.onSendError(e);
      cb?.(e instanceof Error ? e : new Error(String(e)));
    }
  }
  close(): void {
    try {
      this.ws.close();
    } catch {
      this.ws.terminate();
    }
  }
  ping(): void {
    this.ws.ping();
  }
}

/** True for 127.0.0.0/8, ::1 (and its IPv4-mapped forms) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === 'localhost.') return true;
  const kind = isIP(h);
  if (kind === 4) return h.split('.')[0] === '127';
  if (kind === 6) {
    let canon: string;
    try {
      canon = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return false;
    }
    return canon === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canon);
  }
  return false;
}

function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || (isIP(h) === 6 && new URL(`http://[${h}]/`).hostname === '[::]');
}

function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Hostname part of a Host header (`name`, `name:port`, `[v6]:port`). */
function hostOfHeader(value: string): string {
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end < 0 ? value : value.slice(1, end);
  }
  const colon = value.indexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) {
    const all = Buffer.concat(data);
    return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Decides what to do with one incoming y-websocket message; never throws. */
export function inspectMessage(bytes: Uint8Array): Verdict {
  try {
    const dec = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(dec);
    if (type === MESSAGE_SYNC) {
      const sub = decoding.readVarUint(dec);
      const payload = decoding.readVarUint8Array(dec);
      if (decoding.hasContent(dec)) return { kind: 'invalid', reason: 'trailing bytes after sync message' };
      if (sub === SYNC_STEP1) {
        try {
          Y.decodeStateVector(payload);
        } catch (e) {
          return { kind: 'invalid', reason: `bad state vector: ${(e as Error).message || String(e)}` };
        }
        return { kind: 'ok' };
      }
      if (sub === SYNC_STEP2 || sub === SYNC_UPDATE) {
        const problem = checkUpdate(payload);
        return problem === null ? { kind: 'ok', update: payload } : { kind: 'invalid', reason: problem };
      }
      return { kind: 'invalid', reason: `unknown sync message ${sub}` };
    }
    if (type === MESSAGE_AWARENESS) {
      const payload = decoding.readVarUint8Array(dec);
      if (decoding.hasContent(dec)) return { kind: 'invalid', reason: 'trailing bytes after awareness message' };
      // The same reads y-protocols' applyAwarenessUpdate does, so what passes here cannot throw there.
      const inner = decoding.createDecoder(payload);
      const n = decoding.readVarUint(inner);
      for (let i = 0; i < n; i++) {
        decoding.readVarUint(inner);
        decoding.readVarUint(inner);
        JSON.parse(decoding.readVarString(inner));
      }
      return { kind: 'ok' };
    }
    return { kind: 'ignore', reason: `unknown message type ${type}` };
  } catch (e) {
    return { kind: 'invalid', reason: `undecodable message: ${(e as Error).message || String(e)}` };
  }
}

function hasPending(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

const ROOM_RE = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

function validate(opts: WsEndpointOptions): { host: string; port: number; room: string; max: number } {
  if (!(opts.doc instanceof Y.Doc)) throw new MeshError('INVALID_ARGUMENT', 'doc must be a Y.Doc');
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const room = opts.room ?? DEFAULT_WS_ROOM;
  const max = opts.maxMessageBytes ?? DEFAULT_WS_MAX_MESSAGE_BYTES;
  if (typeof host !== 'string' || host.trim() === '') throw new MeshError('INVALID_ARGUMENT', 'host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MeshError('INVALID_ARGUMENT', `port must be an integer in 0..65535, got ${port}`);
  if (typeof room !== 'string' || room.length > 200 || !ROOM_RE.test(room) || room.split('/').some((s) => s === '.' || s === '..')) {
    throw new MeshError('INVALID_ARGUMENT', `room must be made of letters, digits and ._~- (segments split by /), got ${JSON.stringify(room)}`);
  }
  // ws stores maxPayload as a 32-bit integer.
  if (!Number.isInteger(max) || max < 1 || max > 0x7fffffff) throw new MeshError('INVALID_ARGUMENT', `maxMessageBytes must be an integer in 1..2^31-1, got ${max}`);
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0)) {
    throw new MeshError('INVALID_ARGUMENT', 'token must be a non-empty string');
  }
  if (opts.token === undefined && !isLoopbackHost(host)) throw new MeshError('INVALID_ARGUMENT', TOKEN_REQUIRED);
  return { host, port, room, max };
}

/** Serves `opts.doc` to stock y-websocket clients over HTTP/websocket. */
export async function startWsEndpoint(opts: WsEndpointOptions): Promise<WsEndpoint> {
  const { host, port, room, max } = validate(opts);
  let doc = opts.doc;
  const roomPath = `/${room}`;
  const tokenDigest = opts.token === undefined ? undefined : digest(opts.token);
  const allowedOrigins = new Set(opts.allowedOrigins ?? []);

  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    try {
      opts.log?.(level, msg, fields);
    } catch {
      // a broken logger must not break the endpoint
    }
  };
  const reportInvalid = (reason: string): void => {
    try {
      opts.onInvalid?.(reason);
    } catch (e) {
      log('error', 'ws onInvalid handler threw', { error: String(e) });
    }
  };

  if (getPersistence() !== null) {
    // With persistence set, the library destroys and forgets a doc when its last client leaves,
    // which would orphan our bridge (env YPERSISTENCE sets it at import time).
    log('warn', 'y-websocket persistence was set; disabling it (the peer persists its own document)');
    setPersistence(null);
  }

  // ---- the shared doc and the bridge -----------------------------------------------------------
  let key = `${room}#agentmesh-ws-${++endpointSeq}-${process.pid}`;
  let shared = new WSSharedDoc(key);
  shared.gc = doc.gc;
  const BRIDGE = Symbol('agentmesh-ws-bridge');
  const myOrigins = new WeakSet<WsOrigin>();
  const endpointOrigin = new WsOrigin(0, undefined, room);
  myOrigins.add(endpointOrigin);
  let closed = false;
  // Set while applying to one side when that side held pending structs before the apply: its echo
  // may then carry content the other side lacks, so it is forwarded instead of dropped.
  let echoToDoc = false;
  let echoToShared = false;

  const onSharedUpdate = (update: Uint8Array, origin: unknown): void => {
    if (closed) return;
    if (origin === BRIDGE && !echoToDoc) return;
    const o = origin instanceof LibConn ? origin.origin : endpointOrigin;
    const saved = echoToShared;
    echoToShared = hasPending(doc);
    try {
      Y.applyUpdate(doc, update, o);
    } catch (e) {
      log('error', 'ws: applying a client update to the peer document failed', { error: String(e) });
    } finally {
      echoToShared = saved;
    }
  };
  const onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (closed) return;
    if (origin instanceof WsOrigin && myOrigins.has(origin) && !echoToShared) return;
    const saved = echoToDoc;
    echoToDoc = hasPending(shared);
    try {
      Y.applyUpdate(shared, update, BRIDGE);
    } catch (e) {
      log('error', 'ws: applying a peer update to the websocket document failed', { error: String(e) });
    } finally {
      echoToDoc = saved;
    }
  };
  const onDocDestroy = (): void => {
    log('warn', 'ws: the peer document was destroyed; closing the websocket endpoint');
    void close();
  };

  Y.applyUpdate(shared, Y.encodeStateAsUpdate(doc), BRIDGE);
  shared.on('update', onSharedUpdate);
  doc.on('update', onDocUpdate);
  doc.on('destroy', onDocDestroy);
  docs.set(key, shared);

  const destroyShared = (): void => {
    doc.off('update', onDocUpdate);
    doc.off('destroy', onDocDestroy);
    shared.off('update', onSharedUpdate);
    if (docs.get(key) === shared) docs.delete(key);
    try {
      shared.awareness.destroy();
      shared.destroy();
    } catch (e) {
      log('error', 'ws: destroying the websocket document failed', { error: String(e) });
    }
  };

  const rebind = (next: Y.Doc): void => {
    if (closed || next === doc) return;
    for (const ws of live.keys()) {
      try {
        ws.close(WS_CLOSE_GENERATION, 'new document generation: reconnect with a fresh document');
      } catch {
        ws.terminate();
      }
    }
    destroyShared();
    doc = next;
    key = `${room}#agentmesh-ws-${++endpointSeq}-${process.pid}`;
    shared = new WSSharedDoc(key);
    shared.gc = doc.gc;
    Y.applyUpdate(shared, Y.encodeStateAsUpdate(doc), BRIDGE);
    shared.on('update', onSharedUpdate);
    doc.on('update', onDocUpdate);
    doc.on('destroy', onDocDestroy);
    docs.set(key, shared);
    log('info', 'ws: serving the new document generation; clients were asked to reconnect');
  };

  // ---- access control ----------------------------------------------------------------------------
  const authorized = (req: http.IncomingMessage, url: URL): boolean => {
    if (tokenDigest === undefined) return true;
    const candidates: string[] = [];
    const q = url.searchParams.get('token');
    if (q !== null) candidates.push(q);
    const auth = req.headers.authorization;
    if (typeof auth === 'string') {
      const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
      if (m?.[1] !== undefined) candidates.push(m[1].trim());
    }
    return candidates.some((c) => timingSafeEqual(digest(c), tokenDigest));
  };
  /** Without a token: refuse DNS-rebound Host names and foreign browser origins. */
  const foreign = (req: http.IncomingMessage): string | null => {
    if (tokenDigest !== undefined) return null;
    const hostHeader = req.headers.host;
    if (typeof hostHeader === 'string' && hostHeader !== '') {
      const h = hostOfHeader(hostHeader);
      if (!isLoopbackHost(h) && h !== host) return `host ${JSON.stringify(hostHeader)} is not loopback`;
    }
    const origin = req.headers.origin;
    if (typeof origin === 'string' && !allowedOrigins.has(origin)) {
      let ok = false;
      try {
        const u = new URL(origin);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname);
      } catch {
        ok = false;
      }
      if (!ok) return `origin ${JSON.stringify(origin)} is not allowed`;
    }
    return null;
  };
  const parseUrl = (req: http.IncomingMessage): URL | null => {
    try {
      return new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return null;
    }
  };

  // ---- websocket connections -----------------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true, maxPayload: max, perMessageDeflate: false, clientTracking: false });
  const live = new Map<WebSocket, LibConn>();
  const closedWaiters = new Map<WebSocket, Promise<void>>();

  const onConnection = (ws: WebSocket, req: http.IncomingMessage): void => {
    const remote = req.socket.remoteAddress;
    if (closed) {
      ws.terminate();
      return;
    }
    const origin = new WsOrigin(++connectionSeq, remote, room);
    myOrigins.add(origin);
    const fields = { connection: origin.connection, remote };
    let rejected = false;
    let unknownLogged = 0;
    let rejectTimer: NodeJS.Timeout | undefined;
    const conn = new LibConn(ws, origin, (e) => log('warn', 'ws send failed', { ...fields, error: String(e) }));
    live.set(ws, conn);
    closedWaiters.set(
      ws,
      new Promise<void>((resolve) => {
        ws.once('close', () => {
          if (rejectTimer !== undefined) clearTimeout(rejectTimer);
          live.delete(ws);
          closedWaiters.delete(ws);
          try {
            conn.emit('close'); // the library clears its ping interval and awareness states here
          } catch (e) {
            log('error', 'ws close handling failed', { ...fields, error: String(e) });
          }
          log('debug', 'ws client disconnected', fields);
          resolve();
        });
      }),
    );

    const reject = (reason: string, code: number): void => {
      rejected = true;
      log('warn', 'ws message rejected', { ...fields, reason });
      reportInvalid(reason);
      try {
        ws.close(code, code === 1009 ? 'message too big' : code === WS_CLOSE_GENERATION ? 'earlier document generation' : 'invalid message');
      } catch {
        ws.terminate();
      }
      rejectTimer = setTimeout(() => ws.terminate(), REJECT_GRACE_MS);
      rejectTimer.unref();
    };

    ws.on('error', (err: Error & { code?: string }) => {
      // Without this listener ws re-throws socket errors (oversized frames, bad framing) and the
      // process dies: the library never listens for 'error'.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        if (!rejected) {
          rejected = true;
          const reason = `message over the ${max}-byte limit`;
          log('warn', 'ws message rejected', { ...fields, reason });
          reportInvalid(reason);
        }
      } else {
        log('warn', 'ws socket error', { ...fields, error: err.message, code: err.code });
      }
    });
    ws.on('pong', () => {
      try {
        conn.emit('pong');
      } catch {
        // ignore
      }
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (rejected || closed) return;
      try {
        const bytes = toBytes(data);
        if (!isBinary) return reject('text frame (y-websocket speaks binary)', 1003);
        if (bytes.byteLength > max) return reject(`message of ${bytes.byteLength} bytes is over the ${max}-byte limit`, 1009);
        const verdict = inspectMessage(bytes);
        if (verdict.kind === 'invalid') return reject(verdict.reason, 1008);
        if (verdict.kind === 'ok' && verdict.update && opts.isStale?.(verdict.update)) {
          return reject('an update of an earlier document generation (reconnect with a fresh document)', WS_CLOSE_GENERATION);
        }
        if (verdict.kind === 'ignore') {
          if (unknownLogged < UNKNOWN_LOG_LIMIT) log('warn', 'ws message dropped', { ...fields, reason: verdict.reason });
          else if (unknownLogged === UNKNOWN_LOG_LIMIT) log('warn', 'ws: further dropped messages of this connection are not logged', fields);
          unknownLogged++;
          return;
        }
        conn.emit('message', bytes);
      } catch (e) {
        log('error', 'ws message handling failed', { ...fields, error: String(e) });
      }
    });

    try {
      // Someone may have removed our doc from the global map; the library would then create a
      // fresh, unbridged one under our key.
      if (docs.get(key) !== shared) docs.set(key, shared);
      setupWSConnection(conn as unknown as WebSocket, req, { docName: key, gc: doc.gc });
      log('debug', 'ws client connected', fields);
    } catch (e) {
      log('error', 'ws connection setup failed', { ...fields, error: String(e) });
      ws.terminate();
    }
  };

  const refuseUpgrade = (socket: Duplex, status: number, body: string): void => {
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
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', (e) => log('debug', 'ws upgrade socket error', { error: String(e) }));
    try {
      const remote = req.socket.remoteAddress;
      if (closed) return refuseUpgrade(socket, 503, 'shutting down');
      const url = parseUrl(req);
      if (url === null) return refuseUpgrade(socket, 400, 'bad request');
      if (url.pathname !== roomPath) {
        log('info', 'ws upgrade refused: unknown room', { path: url.pathname, remote });
        return refuseUpgrade(socket, 404, 'not found');
      }
      if (!authorized(req, url)) {
        log('warn', 'ws upgrade refused: missing or wrong token', { remote });
        return refuseUpgrade(socket, 401, 'unauthorized');
      }
      const why = foreign(req);
      if (why !== null) {
        log('warn', 'ws upgrade refused', { reason: why, remote });
        return refuseUpgrade(socket, 403, 'forbidden');
      }
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
    } catch (e) {
      log('error', 'ws upgrade failed', { error: String(e) });
      socket.destroy();
    }
  };

  // ---- plain HTTP ------------------------------------------------------------------------------------
  const sendJson = (res: http.ServerResponse, status: number, body: unknown, head = false): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(head ? undefined : text);
  };
  const sendText = (res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void => {
    if (res.headersSent || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) + 1, ...extra });
    res.end(`${text}\n`);
  };

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = parseUrl(req);
    if (url === null) return sendText(res, 400, 'bad request');
    const isGet = req.method === 'GET' || req.method === 'HEAD';
    if (url.pathname === '/healthz') {
      if (!isGet) return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
      return sendJson(res, 200, { ok: true }, req.method === 'HEAD');
    }
    if (!authorized(req, url)) {
      log('warn', 'http request refused: missing or wrong token', { path: url.pathname, remote: req.socket.remoteAddress });
      return sendText(res, 401, 'unauthorized', { 'www-authenticate': 'Bearer' });
    }
    const why = foreign(req);
    if (why !== null) {
      log('warn', 'http request refused', { path: url.pathname, reason: why, remote: req.socket.remoteAddress });
      return sendText(res, 403, 'forbidden');
    }
    if (url.pathname === '/status' && opts.status) {
      if (!isGet) return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
      return sendJson(res, 200, opts.status() ?? null, req.method === 'HEAD');
    }
    if (opts.httpHandler) {
      const handled = await opts.httpHandler(req, res);
      if (handled) return;
    }
    if (url.pathname === roomPath) return sendText(res, 426, 'upgrade required', { upgrade: 'websocket' });
    return sendText(res, 404, 'not found');
  };

  const server = http.createServer((req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      log('error', 'http handler failed', { path: (req.url ?? '').split('?')[0], error: String(e) }); // never log the query: it may hold the token
      try {
        if (!res.headersSent) sendText(res, 500, 'internal error');
        else res.destroy();
      } catch {
        // ignore
      }
    });
  });
  server.on('upgrade', onUpgrade);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    closed = true;
    destroyShared();
    wss.close();
    throw e;
  }
  server.on('error', (e) => log('error', 'ws endpoint server error', { error: String(e) }));

  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
  const urlHost = isWildcardHost(host) ? (isIP(host.replace(/^\[|\]$/g, '')) === 6 ? '[::1]' : '127.0.0.1') : formatHost(host);
  const serverUrl = `ws://${urlHost}:${boundPort}`;
  log('info', 'websocket endpoint listening', { url: `${serverUrl}${roomPath}`, auth: tokenDigest !== undefined });

  let closing: Promise<void> | undefined;
  const withTimeout = (p: Promise<unknown>, ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      void p.then(
        () => {
          clearTimeout(t);
          resolve();
        },
        () => {
          clearTimeout(t);
          resolve();
        },
      );
    });

  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const ws of live.keys()) {
        try {
          ws.close(1001, 'server shutting down');
        } catch {
          ws.terminate();
        }
      }
      await withTimeout(Promise.all(closedWaiters.values()), CLOSE_GRACE_MS);
      for (const ws of live.keys()) ws.terminate();
      await withTimeout(Promise.all(closedWaiters.values()), CLOSE_GRACE_MS);
      // Anything still registered missed its 'close' event: let the library drop it anyway.
      for (const conn of live.values()) conn.emit('close');
      live.clear();
      wss.close();
      await withTimeout(serverClosed, CLOSE_GRACE_MS);
      destroyShared();
      log('info', 'websocket endpoint closed', { url: `${serverUrl}${roomPath}` });
    })().catch((e: unknown) => {
      log('error', 'ws endpoint close failed', { error: String(e) });
    });
    return closing;
  };

  return {
    url: `${serverUrl}${roomPath}`,
    serverUrl,
    room,
    port: boundPort,
    host,
    connections: () => live.size,
    rebind,
    close,
  };
}
