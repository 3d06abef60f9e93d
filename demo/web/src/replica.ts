// The page's own replica of the mesh document: one Y.Doc, kept for the page's whole life, synced
// through one peer's y-websocket endpoint at a time. When that peer goes away the page keeps its
// last state (read-only) and, after a short grace, switches to another live peer; the same Y.Doc
// then syncs with the new peer (Yjs merges, nothing is lost or doubled). The TaskBoard from
// @agentmesh/crdt-store validates every entry, exactly as the peers do.

import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { TaskBoard } from '@agentmesh/crdt-store';
import { api, type DemoPeer } from './api.js';

export type ConnState = 'connecting' | 'synced' | 'lost';

export interface ConnInfo {
  state: ConnState;
  /** Name of the peer the page syncs through (or tries to). */
  peer: string | null;
  url: string | null;
  /** When the connection was lost (page clock), while lost. */
  lostAt: number | null;
  /** Why the page is not live, for the banner. */
  reason: string | null;
  switches: number;
}

const FAILOVER_MS = 1500;

export class Replica {
  readonly doc = new Y.Doc();
  readonly board: TaskBoard;
  invalid = 0;
  private provider: WebsocketProvider | null = null;
  private preferred: string | null;
  private failoverTimer: number | undefined;
  readonly conn: ConnInfo = { state: 'connecting', peer: null, url: null, lostAt: null, reason: null, switches: 0 };
  onChange: () => void = () => {};

  constructor(preferred: string | null) {
    this.preferred = preferred;
    this.board = new TaskBoard(this.doc, { now: () => Date.now(), onInvalid: () => this.invalid++ });
  }

  /** Connects through `peer` (by name); the choice sticks until that peer goes away. */
  connect(peer: DemoPeer): void {
    this.provider?.destroy();
    const u = new URL(peer.wsUrl);
    const room = u.pathname.replace(/^\//, '') || 'agentmesh';
    const serverUrl = `${u.protocol}//${u.host}`;
    if (this.conn.peer !== null && this.conn.peer !== peer.name) this.conn.switches++;
    this.conn.peer = peer.name;
    this.conn.url = peer.wsUrl;
    this.conn.state = 'connecting';
    const p = new WebsocketProvider(serverUrl, room, this.doc, { disableBc: true, maxBackoffTime: 2000 });
    this.provider = p;
    p.on('sync', (synced: boolean) => {
      if (this.provider !== p || !synced) return;
      this.conn.state = 'synced';
      this.conn.lostAt = null;
      this.conn.reason = null;
      window.clearTimeout(this.failoverTimer);
      this.failoverTimer = undefined;
      this.onChange();
    });
    p.on('status', (e: { status: string }) => {
      if (this.provider !== p) return;
      if (e.status === 'disconnected' && this.conn.state !== 'lost') this.lost(`lost the connection to ${peer.name}`);
    });
    p.on('connection-close', (e: CloseEvent | null) => {
      // 4000: the peer moved to a new document generation. This replica holds the old one, which
      // the peer refuses; start afresh (a reload builds a new Y.Doc) instead of pushing it back.
      if (this.provider === p && e?.code === 4000) {
        p.destroy();
        window.location.reload();
      }
    });
    p.on('connection-error', () => {
      if (this.provider === p && this.conn.state !== 'synced') this.lost(`cannot reach ${peer.name}`);
    });
  }

  /** Switches to `name` on the user's request. */
  async use(name: string): Promise<void> {
    const { peers } = await api.peers();
    const p = peers.find((x) => x.name === name);
    if (!p) throw new Error(`no peer named ${name}`);
    if (p.state !== 'running') throw new Error(`${name} is not running`);
    this.preferred = name;
    this.connect(p);
    this.onChange();
  }

  /** Picks the first peer to sync through: ?peer=NAME, else the first running one. */
  async start(): Promise<void> {
    for (;;) {
      try {
        const { peers } = await api.peers();
        const pick = peers.find((p) => p.name === this.preferred && p.state === 'running') ?? peers.find((p) => p.state === 'running');
        if (pick) return this.connect(pick);
        this.conn.reason = 'no peer is running';
      } catch (e) {
        this.conn.reason = `demo server unreachable: ${(e as Error).message}`;
      }
      this.conn.state = 'lost';
      this.onChange();
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private lost(reason: string): void {
    this.conn.state = 'lost';
    this.conn.lostAt ??= Date.now();
    this.conn.reason = `${reason}; showing the last state (read-only)`;
    this.onChange();
    this.failoverTimer ??= window.setTimeout(() => void this.failover(), FAILOVER_MS);
  }

  /** Still lost after the grace: sync through another live peer (or the same one, back again). */
  private async failover(): Promise<void> {
    this.failoverTimer = undefined;
    if (this.conn.state !== 'lost') return;
    try {
      const { peers } = await api.peers();
      const running = peers.filter((p) => p.state === 'running');
      const same = running.find((p) => p.name === this.conn.peer && p.wsUrl === this.conn.url);
      const pick = same ?? running.find((p) => p.name === this.preferred) ?? running[0];
      if (!pick) {
        this.conn.reason = 'no peer is running; showing the last state (read-only)';
      } else if (pick !== same) {
        this.connect(pick);
        this.conn.reason = `switching to ${pick.name}; showing the last state until it syncs`;
      }
    } catch (e) {
      this.conn.reason = `demo server unreachable (${(e as Error).message}); showing the last state (read-only)`;
    }
    this.onChange();
    if ((this.conn.state as ConnState) !== 'synced') this.failoverTimer = window.setTimeout(() => void this.failover(), FAILOVER_MS * 2);
  }
}
