// Why: some figures live only in the shared document (data items agents wrote, each side's full
// state before a heal). This reads a peer's document the way any client can: a stock y-websocket
// client against the peer's websocket endpoint.
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { until } from './procs.js';

export interface DocClient {
  doc: Y.Doc;
  close(): void;
}

export async function connectDoc(wsUrl: string, timeoutMs = 20_000): Promise<DocClient> {
  const u = new URL(wsUrl);
  const room = u.pathname.replace(/^\//, '');
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`ws://${u.host}`, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true });
  const close = () => {
    provider.destroy();
    doc.destroy();
  };
  try {
    await until(`y-websocket sync with ${wsUrl}`, () => provider.synced, timeoutMs, 20);
  } catch (e) {
    close();
    throw e;
  }
  return { doc, close };
}

/** An independent copy of a document's full state. */
export function copyDoc(doc: Y.Doc): Y.Doc {
  const d = new Y.Doc();
  Y.applyUpdate(d, Y.encodeStateAsUpdate(doc));
  return d;
}
