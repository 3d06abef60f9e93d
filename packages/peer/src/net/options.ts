// The options of createMeshTransport and their checks: every bad value is a
// MeshError('INVALID_ARGUMENT') before any socket is opened.

import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { PrivateKey } from '@libp2p/interface';
import { MeshError, resolveLogger, silentLogger } from '@agentmesh/scheduler';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { peerOfAddr } from './address-book.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * How broadcast() reaches every peer: 'direct' (one framed send on each peer's direct sync
 * stream), 'gossipsub' (unsigned, fast message ids, mesh publish) or 'gossipsub-signed' (the
 * configuration before issue 11, for comparison). See docs/performance.md, "Fan-out".
 */
export type Fanout = 'direct' | 'gossipsub' | 'gossipsub-signed';
export const FANOUTS: readonly Fanout[] = ['direct', 'gossipsub', 'gossipsub-signed'];
export const DEFAULT_FANOUT: Fanout = 'direct';

export interface MeshTransportOptions {
  /** The peer's identity (Ed25519); the same key gives the same peer id. */
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. ['/ip4/127.0.0.1/tcp/0']. */
  listen: string[];
  /** Multiaddrs of peers to join through, each ending in /p2p/<peer id>. */
  bootstrap?: string[];
  /** Mesh secret: when set, only peers with the same secret can connect (libp2p pnet). */
  secret?: string;
  /** Where the transport logs (default: nowhere). */
  logger?: Logger;
  /** Time for backoffs, timeouts and rate limits (default: systemClock). */
  clock?: Clock;
  /** Largest message sent or accepted; larger direct frames reset the stream. Default 64 MiB. */
  maxMessageBytes?: number;
  /** How broadcast() fans out (default 'direct'). */
  fanout?: Fanout;
  /**
   * Which peers may connect at all (an allow-list, minus removed members: docs/security.md).
   * Others are refused after the handshake names them, never dialled, and their gossip dropped.
   * Default: every peer (that knows the mesh secret, when one is set).
   */
  admits?: (peerId: string) => boolean;
}

export interface ValidOptions {
  listen: Multiaddr[];
  bootstrap: Multiaddr[];
  maxMessageBytes: number;
  fanout: Fanout;
}

export function validateOptions(opts: MeshTransportOptions): ValidOptions {
  if (opts === null || typeof opts !== 'object') throw new MeshError('INVALID_ARGUMENT', 'options are required');
  const key = opts.privateKey as PrivateKey | undefined;
  if (!key || typeof key !== 'object' || key.type !== 'Ed25519') throw new MeshError('INVALID_ARGUMENT', 'privateKey must be an Ed25519 private key (see generatePeerKey)');
  const { listen, bootstrap } = parseAddresses(opts.listen, opts.bootstrap);
  if (opts.secret !== undefined && (typeof opts.secret !== 'string' || opts.secret.length === 0)) {
    throw new MeshError('INVALID_ARGUMENT', 'secret must be a non-empty string when given');
  }
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) throw new MeshError('INVALID_ARGUMENT', 'maxMessageBytes must be a positive integer');
  resolveLogger(opts, silentLogger); // throws for the retired `log` option or a malformed logger
  const clock = opts.clock;
  if (clock !== undefined && (clock === null || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function')) {
    throw new MeshError('INVALID_ARGUMENT', 'clock must be a Clock ({ now, setTimeout, clearTimeout })');
  }
  if (opts.admits !== undefined && typeof opts.admits !== 'function') throw new MeshError('INVALID_ARGUMENT', 'admits must be a function');
  const fanout = opts.fanout ?? DEFAULT_FANOUT;
  if (!FANOUTS.includes(fanout)) throw new MeshError('INVALID_ARGUMENT', `fanout must be one of ${FANOUTS.join(', ')}`);
  return { listen, bootstrap, maxMessageBytes, fanout };
}

/**
 * Parses listen and bootstrap addresses (every bootstrap address must end in /p2p/<peer id>);
 * a bad one is a MeshError('INVALID_ARGUMENT') naming it. The CLI calls it before anything starts.
 */
export function parseAddresses(listenIn: unknown, bootstrapIn: unknown): { listen: Multiaddr[]; bootstrap: Multiaddr[] } {
  if (!Array.isArray(listenIn)) throw new MeshError('INVALID_ARGUMENT', 'listen must be an array of multiaddrs');
  const parse = (s: unknown, what: string): Multiaddr => {
    if (typeof s !== 'string' || s.length === 0) throw new MeshError('INVALID_ARGUMENT', `${what} must be a multiaddr string`);
    try {
      return multiaddr(s);
    } catch (e) {
      throw new MeshError('INVALID_ARGUMENT', `${what} ${JSON.stringify(s)} is not a valid multiaddr: ${(e as Error).message}`);
    }
  };
  const listen = listenIn.map((s) => parse(s, 'listen address'));
  if (bootstrapIn !== undefined && !Array.isArray(bootstrapIn)) throw new MeshError('INVALID_ARGUMENT', 'bootstrap must be an array of multiaddrs');
  const bootstrap = ((bootstrapIn ?? []) as unknown[]).map((s) => {
    const ma = parse(s, 'bootstrap address');
    const id = peerOfAddr(ma);
    if (!id) throw new MeshError('INVALID_ARGUMENT', `bootstrap address ${s} must end in /p2p/<peer id>`);
    try {
      peerIdFromString(id);
    } catch {
      throw new MeshError('INVALID_ARGUMENT', `bootstrap address ${s} has an invalid peer id`);
    }
    return ma;
  });
  return { listen, bootstrap };
}
