// The bridge between the peer's live Y.Doc and the document @y/websocket-server serves.
//
// A bridge, not a registration: @y/websocket-server keeps its documents in the global `docs` map as
// WSSharedDoc instances. Its per-doc behaviour (broadcast on 'update', the awareness instance, the
// `conns` map) is wired inside the WSSharedDoc constructor with module-private handlers, so the
// peer's own Y.Doc cannot be registered there without grafting those internals onto it. Instead we
// construct a WSSharedDoc ourselves (the replica), register it under a key unique to this bridge
// (several endpoints may share one process and one room name), hand that key as `docName` to
// setupWSConnection, and carry updates ONE WAY: every peer doc update (mesh, local, storage) is
// applied to the replica at once with a private origin, and the library broadcasts it to every
// client in the same tick. Nothing flows back: websocket clients are readers, not members
// (connection.ts refuses their writes before the library sees them; should anything still change
// the replica, it is logged and never reaches the peer doc).
//
// The replica exists only while clients need it: the first client's acquire() opens it, seeded
// with the peer doc's full state at that moment (pending structs included), and wires the peer
// doc's 'update' listener; once the last lease is released it lives on for a short grace (a
// reconnect stays cheap) and is then unwired and destroyed. With no client connected the peer doc
// carries no update listener of ours and no second copy of the document exists.
//
// bind(doc) sets the peer doc; rebind(doc) swaps it for another (a new document generation: the
// replica is dropped and the next one opens under a fresh key); destroy() unwires and frees
// everything. The peer doc itself is never modified, and never destroyed.

import * as Y from 'yjs';
import { WSSharedDoc, docs, getPersistence, setPersistence } from '@y/websocket-server/utils';
import { MeshError } from '@agentmesh/scheduler';
import type { LogLevel, Logger } from '../logger.js';
import { DEFAULT_WS_REPLICA_GRACE_MS } from './config.js';

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

let replicaSeq = 0;
let connectionSeq = 0;

/** Origin of the bridge's own applies to the shared doc. */
const BRIDGE = Symbol('agentmesh-ws-bridge');

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
  /** How long the replica outlives its last client, ms (default DEFAULT_WS_REPLICA_GRACE_MS; 0: at once). */
  graceMs?: number;
}

/** One client's hold on the replica: `docName` for setupWSConnection; release() once it has gone. */
export interface ReplicaLease {
  readonly docName: string;
  /** Idempotent. */
  release(): void;
}

interface Replica {
  doc: Y.Doc;
  key: string;
  shared: WSSharedDoc;
}

export class DocBridge {
  private target: Y.Doc | undefined;
  private replica: Replica | undefined;
  private state: 'live' | 'stopped' | 'destroyed' = 'live';
  /** Leases not yet released. */
  private holders = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly graceMs: number;
  private refusedCount = 0;
  private forwardedCount = 0;

  constructor(private readonly opts: DocBridgeOptions) {
    const grace = opts.graceMs ?? DEFAULT_WS_REPLICA_GRACE_MS;
    if (!Number.isFinite(grace) || grace < 0) throw new MeshError('INVALID_ARGUMENT', `graceMs must be a number >= 0, got ${grace}`);
    this.graceMs = grace;
  }

  /** The peer doc currently bound. */
  get doc(): Y.Doc {
    if (this.target === undefined) throw new MeshError('CLOSED', 'the websocket document bridge is not bound');
    return this.target;
  }

  /** Peer doc updates applied to a replica so far (a cost counter: stays 0 while no client came). */
  get forwarded(): number {
    return this.forwardedCount;
  }

  /** Changes of the replica that did not come from the peer doc (refused, never carried over). */
  get refused(): number {
    return this.refusedCount;
  }

  /** True while a replica (the library's server doc) exists. */
  get replicaOpen(): boolean {
    return this.replica !== undefined;
  }

  /** A new client origin (process-unique connection number) whose writes the bridge will not echo. */
  originFor(remote: string | undefined): WsOrigin {
    const origin = new WsOrigin(++connectionSeq, remote, this.opts.room);
    return origin;
  }

  /**
   * A client is about to be handed to setupWSConnection: opens the replica if there is none (or
   * keeps the one in its grace period) and returns its name. Throws MeshError CLOSED once stopped.
   */
  acquire(): ReplicaLease {
    if (this.state !== 'live') throw new MeshError('CLOSED', 'the websocket document bridge is closed');
    const docName = this.libraryDocName();
    this.holders++;
    this.cancelIdle();
    let held = true;
    return {
      docName,
      release: () => {
        if (!held) return;
        held = false;
        this.holders--;
        if (this.holders === 0 && this.state === 'live') this.scheduleIdle();
      },
    };
  }

  /**
   * The `docName` of the replica, opening it if needed. Puts the replica back into the library's
   * map if someone removed it: the library would otherwise create a fresh, unbridged doc under our key.
   */
  libraryDocName(): string {
    const { key, shared } = this.replica ?? this.openReplica();
    if (docs.get(key) !== shared) docs.set(key, shared);
    return key;
  }

  /** Sets the peer doc to serve; the replica opens with the first client. */
  bind(doc: Y.Doc): void {
    if (this.state === 'destroyed') throw new MeshError('CLOSED', 'the websocket document bridge was destroyed');
    if (this.target !== undefined) throw new MeshError('INVALID_ARGUMENT', 'the websocket document bridge is already bound (use rebind)');
    this.target = doc;
    doc.on('destroy', this.onDocDestroy);
  }

  /**
   * Serves `next` instead of the bound doc (nothing happens for the same doc, or once stopped):
   * beforeRebind runs, the replica of the old doc is freed, and `next` is bound afresh.
   */
  rebind(next: Y.Doc): void {
    if (this.state !== 'live' || this.target === undefined || next === this.target) return;
    this.opts.beforeRebind?.();
    this.unbind();
    this.bind(next);
    this.log('info', 'ws: serving the new document generation; clients were asked to reconnect');
  }

  /** Stops carrying updates either way (the endpoint is closing); rebind() is ignored from now on. */
  stop(): void {
    if (this.state === 'live') this.state = 'stopped';
  }

  /** Unwires the peer doc and frees the replica; idempotent. */
  destroy(): void {
    if (this.state === 'destroyed') return;
    this.state = 'destroyed';
    this.unbind();
  }

  private openReplica(): Replica {
    const doc = this.doc;
    const key = `${this.opts.room}#agentmesh-ws-${++replicaSeq}-${process.pid}`;
    const shared = new WSSharedDoc(key);
    shared.gc = doc.gc;
    Y.applyUpdate(shared, Y.encodeStateAsUpdate(doc), BRIDGE);
    const replica = { doc, key, shared };
    this.replica = replica;
    shared.on('update', this.onSharedUpdate);
    doc.on('update', this.onDocUpdate);
    docs.set(key, shared);
    return replica;
  }

  private closeReplica(): void {
    this.cancelIdle();
    const r = this.replica;
    if (r === undefined) return;
    this.replica = undefined;
    r.doc.off('update', this.onDocUpdate);
    r.shared.off('update', this.onSharedUpdate);
    if (docs.get(r.key) === r.shared) docs.delete(r.key);
    try {
      r.shared.awareness.destroy();
      r.shared.destroy();
    } catch (e) {
      this.log('error', 'ws: destroying the websocket document failed', { error: String(e) });
    }
  }

  private scheduleIdle(): void {
    this.cancelIdle();
    if (this.replica === undefined) return;
    if (this.graceMs === 0) return this.closeReplica();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.holders === 0) this.closeReplica();
    }, this.graceMs);
    this.idleTimer.unref?.();
  }

  private cancelIdle(): void {
    if (this.idleTimer === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private unbind(): void {
    this.closeReplica();
    const doc = this.target;
    if (doc === undefined) return;
    this.target = undefined;
    doc.off('destroy', this.onDocDestroy);
  }

  private log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    this.opts.logger.log(level, msg, fields);
  }

  private readonly onSharedUpdate = (_update: Uint8Array, origin: unknown): void => {
    if (origin === BRIDGE) return;
    // Only the bridge writes the replica (client updates are refused before the library sees
    // them): anything else is a bug or a bypass, and stays out of the peer doc.
    this.refusedCount++;
    const client = this.opts.clientOrigin(origin);
    this.log('error', 'ws: the websocket document changed without the bridge; not carried to the peer document', { connection: client?.connection });
  };

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (this.state !== 'live' || this.replica === undefined) return;
    this.forwardedCount++;
    try {
      Y.applyUpdate(this.replica.shared, update, BRIDGE);
    } catch (e) {
      this.log('error', 'ws: applying a peer update to the websocket document failed', { error: String(e), origin: String(origin) });
    }
  };

  private readonly onDocDestroy = (): void => {
    this.log('warn', 'ws: the peer document was destroyed; closing the websocket endpoint');
    this.opts.onDocDestroyed?.();
  };
}
