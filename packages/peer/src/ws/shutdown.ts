// Closing the endpoint: stop accepting, ask every client to go (1001), cut off those that do not
// answer within a grace period, close the servers, then free the shared document. Each wait is
// bounded, so close() always settles and leaves no socket, server or timer behind.

import type * as http from 'node:http';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import type { DocBridge } from './bridge.js';
import type { ConnectionSet } from './connection.js';

/** How long close() waits for clients to answer a close frame before it cuts them off. */
export const CLOSE_GRACE_MS = 500;

/** Resolves when `p` settles or after `ms`, whichever comes first; never rejects. */
export function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
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
}

export interface ShutdownParts {
  server: http.Server;
  wss: WebSocketServer;
  connections: ConnectionSet;
  bridge: DocBridge;
  logger: Logger;
  /** For the closing log line. */
  url: string;
}

/** The close sequence (the caller has already marked the endpoint closed). */
export async function shutdown(parts: ShutdownParts): Promise<void> {
  const { server, wss, connections, bridge } = parts;
  bridge.stop();
  const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  connections.closeAll(1001, 'server shutting down');
  await withTimeout(connections.allClosed(), CLOSE_GRACE_MS);
  connections.terminateAll();
  await withTimeout(connections.allClosed(), CLOSE_GRACE_MS);
  // Anything still registered missed its 'close' event: let the library drop it anyway.
  connections.forgetAll();
  wss.close();
  await withTimeout(serverClosed, CLOSE_GRACE_MS);
  bridge.destroy();
  parts.logger.log('info', 'websocket endpoint closed', { url: parts.url });
}

/** Undoes a start that failed to listen: nothing was served yet. */
export function abandon(parts: Pick<ShutdownParts, 'wss' | 'bridge'>): void {
  parts.bridge.destroy();
  parts.wss.close();
}
