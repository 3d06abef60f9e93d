// One websocket client from upgrade to close, and the set of open ones.
//
// Validation happens before the library sees a message: setupWSConnection gets a small facade
// (LibConn) instead of the socket, and only messages that pass inspectMessage are re-emitted to it.
// Oversized, undecodable or malformed messages (bad update per checkUpdate, bad state vector, bad
// awareness, text frames) are dropped, logged at warn, reported through onInvalid, and the
// connection is closed (1008, 1009 for size, 1003 for text): a client whose update was dropped is
// diverged anyway, and y-websocket reconnects and resyncs. An update of an earlier document
// generation closes with 4000. Websocket clients are readers, not members: an update that would
// change the document (a new entry, a delete, a `meta` write: anything the peer does not hold
// already) closes with 4001 (WS_CLOSE_READ_ONLY) and a warn line; a no-op update (a stock
// client's step 2 of what it already got from us) is dropped unseen. No client update ever reaches
// the library, so nothing a client writes reaches the peer's document or another replica.
// Unknown outer message types (auth, query-awareness) are dropped with a log line and the
// connection stays. Nothing a client sends can throw out of this module.

import { EventEmitter } from 'node:events';
import type * as http from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { setupWSConnection } from '@y/websocket-server/utils';
import type { Logger } from '../logger.js';
import type { DocBridge, ReplicaLease, WsOrigin } from './bridge.js';
import { WS_CLOSE_GENERATION, WS_CLOSE_READ_ONLY } from './config.js';
import { inspectMessage, toBytes } from './messages.js';
import { clientWriteIn } from './read-only.js';

/** After a rejected message, how long the offender gets to answer our close frame. */
const REJECT_GRACE_MS = 1000;
const CLOSE_REASONS: Record<number, string> = {
  1009: 'message too big',
  [WS_CLOSE_GENERATION]: 'earlier document generation',
  [WS_CLOSE_READ_ONLY]: 'read-only: websocket clients may not write; use the HTTP API',
};
/** Unknown message types logged per connection before going quiet. */
const UNKNOWN_LOG_LIMIT = 3;

/** What setupWSConnection gets instead of the socket: it only ever sees validated messages. */
export class LibConn extends EventEmitter {
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

/** The client origin of a library transaction: the LibConn it came through. */
export function clientOriginOf(transactionOrigin: unknown): WsOrigin | undefined {
  return transactionOrigin instanceof LibConn ? transactionOrigin.origin : undefined;
}

/** The open connections, and a promise per connection that resolves once it has closed. */
export class ConnectionSet {
  private readonly live = new Map<WebSocket, LibConn>();
  private readonly closedWaiters = new Map<WebSocket, Promise<void>>();

  get size(): number {
    return this.live.size;
  }

  /** Adds a connection; `onClosed` runs once its socket has closed and it has left the set. */
  track(ws: WebSocket, conn: LibConn, onClosed: () => void): void {
    this.live.set(ws, conn);
    this.closedWaiters.set(
      ws,
      new Promise<void>((resolve) => {
        ws.once('close', () => {
          this.live.delete(ws);
          this.closedWaiters.delete(ws);
          onClosed();
          resolve();
        });
      }),
    );
  }

  /** Sends every client a close frame (a socket that cannot take one is cut off). */
  closeAll(code: number, reason: string): void {
    for (const ws of this.live.keys()) {
      try {
        ws.close(code, reason);
      } catch {
        ws.terminate();
      }
    }
  }

  terminateAll(): void {
    for (const ws of this.live.keys()) ws.terminate();
  }

  /** Resolves once every connection open now has closed. */
  allClosed(): Promise<void> {
    return Promise.all(this.closedWaiters.values()).then(() => {});
  }

  /** Drops every connection still registered, telling the library each one closed. */
  forgetAll(): void {
    for (const conn of this.live.values()) conn.emit('close');
    this.live.clear();
  }
}

export interface ConnectionContext {
  bridge: DocBridge;
  connections: ConnectionSet;
  /** Largest accepted message, bytes. */
  max: number;
  isStale: ((update: Uint8Array) => boolean) | undefined;
  logger: Logger;
  reportInvalid: (reason: string) => void;
  /** True once the endpoint is closing. */
  isClosed: () => boolean;
}

/** Takes over one upgraded socket: validation in front, the library behind. */
export function acceptConnection(ws: WebSocket, req: http.IncomingMessage, ctx: ConnectionContext): void {
  const { bridge, max, logger } = ctx;
  const log = logger.log.bind(logger);
  const remote = req.socket.remoteAddress;
  if (ctx.isClosed()) {
    ws.terminate();
    return;
  }
  const origin = bridge.originFor(remote);
  const fields = { connection: origin.connection, remote };
  let rejected = false;
  let unknownLogged = 0;
  let rejectTimer: NodeJS.Timeout | undefined;
  let lease: ReplicaLease | undefined;
  const conn = new LibConn(ws, origin, (e) => log('warn', 'ws send failed', { ...fields, error: String(e) }));
  ctx.connections.track(ws, conn, () => {
    if (rejectTimer !== undefined) clearTimeout(rejectTimer);
    try {
      conn.emit('close'); // the library clears its ping interval and awareness states here
    } catch (e) {
      log('error', 'ws close handling failed', { ...fields, error: String(e) });
    }
    lease?.release(); // the last client out starts the replica's grace period
    log('debug', 'ws client disconnected', fields);
  });

  const reject = (reason: string, code: number): void => {
    rejected = true;
    log('warn', 'ws message rejected', { ...fields, reason });
    ctx.reportInvalid(reason);
    try {
      ws.close(code, CLOSE_REASONS[code] ?? 'invalid message');
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
        ctx.reportInvalid(reason);
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
    if (rejected || ctx.isClosed()) return;
    try {
      const bytes = toBytes(data);
      if (!isBinary) return reject('text frame (y-websocket speaks binary)', 1003);
      if (bytes.byteLength > max) return reject(`message of ${bytes.byteLength} bytes is over the ${max}-byte limit`, 1009);
      const verdict = inspectMessage(bytes);
      if (verdict.kind === 'invalid') return reject(verdict.reason, 1008);
      if (verdict.kind === 'ok' && verdict.update && ctx.isStale?.(verdict.update)) {
        return reject('an update of an earlier document generation (reconnect with a fresh document)', WS_CLOSE_GENERATION);
      }
      if (verdict.kind === 'ok' && verdict.update) {
        const write = clientWriteIn(bridge.doc, verdict.update);
        if (write !== null) return reject(`a websocket client tried to change the document (${write}); clients are read-only, use the HTTP API`, WS_CLOSE_READ_ONLY);
        return; // a no-op (what the client already got from us): the library never sees client updates
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
    lease = bridge.acquire();
    setupWSConnection(conn as unknown as WebSocket, req, { docName: lease.docName, gc: bridge.doc.gc });
    log('debug', 'ws client connected', fields);
  } catch (e) {
    log('error', 'ws connection setup failed', { ...fields, error: String(e) });
    ws.terminate();
  }
}
