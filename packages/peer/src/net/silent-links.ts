// Which connections have gone silent, and their end. libp2p's connection monitor aborted a
// connection whenever one ping round trip (a new stream, multistream-select, 32 bytes each way)
// took longer than its timeout; on a busy host (30 peers on 2 cores) pings waited behind seconds of
// queued work on both ends, and it aborted hundreds of healthy connections under load, each
// dropping what was in flight on it, so replicas fell behind and pulled whole documents (found by
// the 30-peer bench point: 461 aborts in one run). The monitor now only pings (so even an idle
// link carries bytes every ping interval) and never aborts; a connection is aborted here when no
// byte at all has arrived on its socket for SILENT_MS, the evidence of a dead link or a split
// network. A peer that is merely busy still sends (presences, pings, updates), so it stays.
// A check that runs late (this process stalled) gives every connection that time back, as
// Presence.credit does for leases: a stalled reader has not read what did arrive.

import { MeshError } from '@agentmesh/scheduler';
import type { MultiaddrConnection } from '@libp2p/interface';
import type { MeshComponents, Startable } from './service.js';
import { every } from './timers.js';

/** No byte for this long: the link is dead (libp2p's monitor took 20-30 s with its 20 s ping timeout). */
export const SILENT_MS = 20_000;
/** How often the sockets are looked at. */
export const CHECK_MS = 2_500;

/** What this module reads of a socket (Node's net.Socket). */
export interface ReadCounter {
  bytesRead: number;
}

interface Watched {
  conn: Pick<MultiaddrConnection, 'abort' | 'remoteAddr'>;
  socket: ReadCounter;
  lastBytes: number;
  /** When bytesRead last moved (this clock). */
  movedAt: number;
}

export class SilentLinks implements Startable {
  private readonly watched = new Set<Watched>();
  private stopTick: (() => void) | undefined;
  private lastCheck: number | undefined;
  /** Connections aborted for silence, so far. */
  aborted = 0;

  constructor(private readonly c: Pick<MeshComponents, 'clock' | 'log'>) {}

  /** Watches a new connection until it closes (WireMeter.trackMultiaddrConnection calls this). */
  track(conn: Pick<MultiaddrConnection, 'abort' | 'remoteAddr' | 'addEventListener'>, socket: ReadCounter): void {
    const w: Watched = { conn, socket, lastBytes: socket.bytesRead, movedAt: this.c.clock.now() };
    this.watched.add(w);
    conn.addEventListener('close', () => this.watched.delete(w), { once: true });
  }

  start(): void {
    this.stopTick = every(this.c.clock, CHECK_MS, () => this.check());
  }

  stop(): void {
    this.stopTick?.();
    this.stopTick = undefined;
    this.watched.clear();
  }

  /** Looks at every socket once (the timer calls this every CHECK_MS). */
  check(): void {
    const now = this.c.clock.now();
    const late = this.lastCheck === undefined ? 0 : Math.max(0, now - this.lastCheck - CHECK_MS);
    this.lastCheck = now;
    for (const w of [...this.watched]) {
      const bytes = w.socket.bytesRead;
      if (bytes !== w.lastBytes) {
        w.lastBytes = bytes;
        w.movedAt = now;
        continue;
      }
      // This process's own stall is not the link's silence.
      if (late > CHECK_MS) w.movedAt = Math.min(now, w.movedAt + late);
      if (now - w.movedAt < SILENT_MS) continue;
      this.watched.delete(w);
      this.aborted++;
      this.c.log.log('info', 'connection silent, closed', { remote: w.conn.remoteAddr.toString(), silentMs: now - w.movedAt });
      w.conn.abort(new MeshError('TIMEOUT', `no bytes from ${w.conn.remoteAddr.toString()} for ${now - w.movedAt} ms`));
    }
  }
}
