// The browser / y-websocket endpoint: any stock Yjs client (y-websocket's WebsocketProvider in a
// dashboard or a script) connects to ws://host:port/<room> and reads this peer's replica live.
// Clients are readers, not members: any change they send is refused (close 4001, WS_CLOSE_READ_ONLY);
// they submit, cancel and retry through the HTTP API, which this peer performs and signs.
// This file only assembles the parts in ./ws/:
//   config.ts      options, the returned handle, defaults and their checks
//   access.ts      the pure access policy (token, Host, Origin)
//   bridge.ts      the peer doc <-> y-websocket server doc bridge (echo suppression, rebind; the
//                  server doc exists only while a client is connected, plus a short grace)
//   messages.ts    which messages are well-formed (inspectMessage)
//   read-only.ts   whether a client update would change the document (it may not)
//   connection.ts  one client connection, validation in front of the library; the open set
//   routes.ts      HTTP routes and websocket upgrades
//   shutdown.ts    the bounded close sequence
// Security: loopback by default; beyond loopback a token is mandatory (see access.ts).

import * as Y from 'yjs';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from './logger.js';
import { accessRules } from './ws/access.js';
import { DocBridge, disableLibraryPersistence } from './ws/bridge.js';
import { WS_CLOSE_GENERATION, resolveConfig, serverUrlOf, type WsEndpoint, type WsEndpointOptions } from './ws/config.js';
import { ConnectionSet, acceptConnection, clientOriginOf } from './ws/connection.js';
import { requestListener, upgradeListener } from './ws/routes.js';
import { abandon, shutdown } from './ws/shutdown.js';

export { isLoopbackHost } from './ws/access.js';
export { WsOrigin } from './ws/bridge.js';
export { DEFAULT_WS_MAX_MESSAGE_BYTES, DEFAULT_WS_REPLICA_GRACE_MS, DEFAULT_WS_ROOM, WS_CLOSE_GENERATION, WS_CLOSE_READ_ONLY, type WsEndpoint, type WsEndpointOptions } from './ws/config.js';
export { MESSAGE_AWARENESS, inspectMessage } from './ws/messages.js';

/** How long an idle keep-alive HTTP connection stays open. */
export const KEEP_ALIVE_MS = 65_000;

/** Serves `opts.doc` to stock y-websocket clients over HTTP/websocket. */
export async function startWsEndpoint(opts: WsEndpointOptions): Promise<WsEndpoint> {
  const { host, port, room, max, graceMs, logger: given } = resolveConfig(opts);
  const roomPath = `/${room}`;
  const logger: Logger = {
    log: (level, msg, fields) => {
      try {
        given.log(level, msg, fields);
      } catch {
        // a broken logger must not break the endpoint
      }
    },
  };
  const reportInvalid = (reason: string): void => {
    try {
      opts.onInvalid?.(reason);
    } catch (e) {
      logger.log('error', 'ws onInvalid handler threw', { error: String(e) });
    }
  };
  let closed = false;
  const isClosed = (): boolean => closed;

  disableLibraryPersistence(logger);
  const connections = new ConnectionSet();
  const bridge = new DocBridge({
    room,
    logger,
    clientOrigin: clientOriginOf,
    beforeRebind: () => connections.closeAll(WS_CLOSE_GENERATION, 'new document generation: reconnect with a fresh document'),
    onDocDestroyed: () => void close(),
    graceMs,
  });
  const live = opts.doc instanceof Y.Doc ? undefined : opts.doc;
  bridge.bind(live ? live.doc : (opts.doc as Y.Doc));
  // Following a peer's live document: its replacement (a generation change) is a rebind.
  const unfollow = live?.on('replaced', (e) => {
    if (!closed) bridge.rebind(e.doc);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: max, perMessageDeflate: false, clientTracking: false });
  const connectionContext = { bridge, connections, max, isStale: opts.isStale, logger, reportInvalid, isClosed };
  const routeContext = {
    roomPath,
    access: accessRules({ token: opts.token, allowedOrigins: opts.allowedOrigins, host }),
    logger,
    isClosed,
    status: opts.status,
    httpHandler: opts.httpHandler,
    upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      wss.handleUpgrade(req, socket, head, (ws) => acceptConnection(ws, req, connectionContext)),
  };
  const server = http.createServer(requestListener(routeContext));
  // Keep-alive sockets stay open 65 s idle (Node's default is 5 s). A busy peer whose loop stalls
  // past the idle timeout runs that timer before it reads a request already sent on the socket, and
  // the client gets ECONNRESET (seen: a script polling /api/status under a CPU-starved peer).
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  server.on('upgrade', upgradeListener(routeContext));

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
    abandon({ wss, bridge });
    throw e;
  }
  server.on('error', (e) => logger.log('error', 'ws endpoint server error', { error: String(e) }));

  const addr = server.address();
  const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
  const serverUrl = serverUrlOf(host, boundPort);
  const url = `${serverUrl}${roomPath}`;
  logger.log('info', 'websocket endpoint listening', { url, auth: opts.token !== undefined });

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      closed = true;
      unfollow?.();
      await shutdown({ server, wss, connections, bridge, logger, url });
    })().catch((e: unknown) => {
      logger.log('error', 'ws endpoint close failed', { error: String(e) });
    });
    return closing;
  }

  return {
    url,
    serverUrl,
    room,
    port: boundPort,
    host,
    connections: () => connections.size,
    rebind: (doc) => {
      if (!closed) bridge.rebind(doc);
    },
    close,
  };
}
