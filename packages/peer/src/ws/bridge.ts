// The bridge between the peer's live Y.Doc and the document @y/websocket-server serves.
//
// A bridge, not a registration: @y/websocket-server keeps its documents in the global `docs` map as
// WSSharedDoc instances. Its per-doc behaviour (broadcast on 'update', the awareness instance, the
// `conns` map) is wired inside the WSSharedDoc constructor with module-private handlers, so the
// peer's own Y.Doc cannot be registered there without grafting those internals onto it. Instead we
// construct a WSSharedDoc ourselves, register it under a key unique to this bridge (several
// endpoints may share one process and one room name), hand that key as `docName` to
// setupWSConnection, and carry updates in both directions:
//   - websocket writes reach the peer doc with a `WsOrigin` (one per connection), so the peer's sync
//     engine forwards them to the mesh like local writes;
//   - every other peer doc update (mesh, local, storage) is applied to the shared doc at once with a
//     private origin, and the library broadcasts it to every client in the same tick.
// Echoes are cut by origin; when the target held pending (out-of-order) structs before the apply,
// the echo is forwarded anyway, since it may carry content the other side never saw. Costs: a
// second in-memory copy of the document, and each update is integrated twice.
//
// bind(doc) wires one peer doc; rebind(doc) swaps it for another (a new document generation: a
// fresh shared doc under a fresh key, so clients of the old one cannot write into the new one);
// destroy() unwires and frees the shared doc. The peer doc itself is never modified beyond the
// updates carried over, and never destroyed.

import * as Y from 'yjs';
import { WSSharedDoc, docs, getPersistence, setPersistence } from '@y/websocket-server/utils';
import { MeshError } from '@agentmesh/scheduler';
import type { LogLevel, Logger } from '../logger.js';

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

let bindingSeq = 0;
let connectionSeq = 0;

/** Origin of the bridge's own applies to the shared doc. */
const BRIDGE = Symbol('agentmesh-ws-bridge');

function hasPending(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

/**
 * With persistence set, the library destroys and forgets a doc when its last client leaves, which
 * would orphan a bridge (env YPERSISTENCE sets it at import time): switch it off.
 */
export function disableLibraryPersistence(logger: Logger): void {
  if (getPersistence() === null) return;
  logger.log('warn', 'y-websocket persistence was set; disabling it (the peer persists its own document)');
  setPersistence(null);
}

export interface DocBridgeOptions {
  room: string;
  logger: Logger;
  /** The client origin of a library transaction on the shared doc (its connection), if any. */
  clientOrigin: (transactionOrigin: unknown) => WsOrigin | undefined;
  /** Called by rebind() before the old document is let go (the endpoint closes its clients here). */
  beforeRebind?: () => void;
  /** The bound peer doc was destroyed. */
  onDocDestroyed?: () => void;
}

interface Binding {
  doc: Y.Doc;
  key: string;
  shared: WSSharedDoc;
}

export class DocBridge {
  private binding: Binding | undefined;
  private state: 'live' | 'stopped' | 'destroyed' = 'live';
  private readonly mine = new WeakSet<WsOrigin>();
  /** The origin of shared-doc updates that no client wrote. */
  private readonly ownOrigin: WsOrigin;
  // Set while applying to one side when that side held pending structs before the apply: its echo
  // may then carry content the other side lacks, so it is forwarded instead of dropped.
  private echoToDoc = false;
  private echoToShared = false;

  constructor(private readonly opts: DocBridgeOptions) {
    this.ownOrigin = new WsOrigin(0, undefined, opts.room);
    this.mine.add(this.ownOrigin);
  }

  /** The peer doc currently bound. */
  get doc(): Y.Doc {
    return this.bound().doc;
  }

  /** A new client origin (process-unique connection number) whose writes the bridge will not echo. */
  originFor(remote: string | undefined): WsOrigin {
    const origin = new WsOrigin(++connectionSeq, remote, this.opts.room);
    this.mine.add(origin);
    return origin;
  }

  /**
   * The `docName` to hand setupWSConnection. Puts the shared doc back into the library's map if
   * someone removed it: the library would otherwise create a fresh, unbridged doc under our key.
   */
  libraryDocName(): string {
    const { key, shared } = this.bound();
    if (docs.get(key) !== shared) docs.set(key, shared);
    return key;
  }

  /** Starts serving `doc`: a fresh shared doc holding its state, wired both ways. */
  bind(doc: Y.Doc): void {
    if (this.state === 'destroyed') throw new MeshError('CLOSED', 'the websocket document bridge was destroyed');
    if (this.binding !== undefined) throw new MeshError('INVALID_ARGUMENT', 'the websocket document bridge is already bound (use rebind)');
    const key = `${this.opts.room}#agentmesh-ws-${++bindingSeq}-${process.pid}`;
    const shared = new WSSharedDoc(key);
    shared.gc = doc.gc;
    Y.applyUpdate(shared, Y.encodeStateAsUpdate(doc), BRIDGE);
    this.binding = { doc, key, shared };
    shared.on('update', this.onSharedUpdate);
    doc.on('update', this.onDocUpdate);
    doc.on('destroy', this.onDocDestroy);
    docs.set(key, shared);
  }

  /**
   * Serves `next` instead of the bound doc (nothing happens for the same doc, or once stopped):
   * beforeRebind runs, the old shared doc is freed, and `next` is bound afresh.
   */
  rebind(next: Y.Doc): void {
    if (this.state !== 'live' || this.binding === undefined || next === this.binding.doc) return;
    this.opts.beforeRebind?.();
    this.unbind();
    this.bind(next);
    this.log('info', 'ws: serving the new document generation; clients were asked to reconnect');
  }

  /** Stops carrying updates either way (the endpoint is closing); rebind() is ignored from now on. */
  stop(): void {
    if (this.state === 'live') this.state = 'stopped';
  }

  /** Unwires the peer doc and frees the shared doc; idempotent. */
  destroy(): void {
    if (this.state === 'destroyed') return;
    this.state = 'destroyed';
    this.unbind();
  }

  private bound(): Binding {
    if (this.binding === undefined) throw new MeshError('CLOSED', 'the websocket document bridge is not bound');
    return this.binding;
  }

  private unbind(): void {
    const b = this.binding;
    if (b === undefined) return;
    this.binding = undefined;
    b.doc.off('update', this.onDocUpdate);
    b.doc.off('destroy', this.onDocDestroy);
    b.shared.off('update', this.onSharedUpdate);
    if (docs.get(b.key) === b.shared) docs.delete(b.key);
    try {
      b.shared.awareness.destroy();
      b.shared.destroy();
    } catch (e) {
      this.log('error', 'ws: destroying the websocket document failed', { error: String(e) });
    }
  }

  private log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    this.opts.logger.log(level, msg, fields);
  }

  private readonly onSharedUpdate = (update: Uint8Array, origin: unknown): void => {
    if (this.state !== 'live' || this.binding === undefined) return;
    if (origin === BRIDGE && !this.echoToDoc) return;
    const doc = this.binding.doc;
    const o = this.opts.clientOrigin(origin) ?? this.ownOrigin;
    const saved = this.echoToShared;
    this.echoToShared = hasPending(doc);
    try {
      Y.applyUpdate(doc, update, o);
    } catch (e) {
      this.log('error', 'ws: applying a client update to the peer document failed', { error: String(e) });
    } finally {
      this.echoToShared = saved;
    }
  };

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (this.state !== 'live' || this.binding === undefined) return;
    if (origin instanceof WsOrigin && this.mine.has(origin) && !this.echoToShared) return;
    const shared = this.binding.shared;
    const saved = this.echoToDoc;
    this.echoToDoc = hasPending(shared);
    try {
      Y.applyUpdate(shared, update, BRIDGE);
    } catch (e) {
      this.log('error', 'ws: applying a peer update to the websocket document failed', { error: String(e) });
    } finally {
      this.echoToDoc = saved;
    }
  };

  private readonly onDocDestroy = (): void => {
    this.log('warn', 'ws: the peer document was destroyed; closing the websocket endpoint');
    this.opts.onDocDestroyed?.();
  };
}
