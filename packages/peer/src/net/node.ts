// The libp2p node under MeshTransport: TCP, Noise, Yamux, identify, gossipsub when the fan-out
// uses it (gossip.ts), a private network (pnet plus the marker check of pnet-guard.ts) when a
// mesh secret is set, the partition gater, the wire meter as libp2p's metrics (wire-meter.ts),
// and a logger that keeps libp2p quiet but routes its error lines to diagnostics.ts.
// Created stopped; MeshTransport starts it once its protocol handlers are registered.

import { createLibp2p, type ConnectionManagerInit, type ConnectionMonitorInit, type Libp2pOptions } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { gossipsub } from '@libp2p/gossipsub';
import type { ConnectionGater, PrivateKey } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { pskFromSecret } from './keys.js';
import { errorCapturingLogger, type Libp2pErrorSink } from './libp2p-logger.js';
import { guardedPreSharedKey, type RefusedHandler } from './pnet-guard.js';
import { gossipsubOptions } from './gossip.js';
import type { Fanout } from './options.js';
import type { WireMeter } from './wire-meter.js';
import type { MeshNode, MeshServices } from './service.js';

export interface MeshNodeInit {
  privateKey: PrivateKey;
  listen: Multiaddr[];
  secret?: string;
  gater: ConnectionGater;
  /** libp2p's error lines. */
  onLibp2pError: Libp2pErrorSink;
  /** A connection the mesh-secret check refused. */
  onSecretRefused: RefusedHandler;
  fanout: Fanout;
  /** Counts bytes on the wire (libp2p's metrics component). */
  meter: WireMeter;
}

/**
 * libp2p's admission limits are made for a public node facing strangers: 5 inbound connections per
 * second from one host and 10 upgrading at once. A mesh often has many peers on one host (a laptop,
 * a CI runner, the bench's 30 peers on loopback), where those limits refused the joining peers'
 * dials and, with busy handshakes, kept a 30-peer mesh flapping; admission here is the mesh
 * secret and the gater's job. The connection monitor's ping (a new stream on every connection
 * every 10 s, the connection aborted after 5 s without an answer) aborted healthy connections of
 * a busy peer (30 peers on 2 cores); with 20 s it still aborted hundreds under load. So the
 * monitor only pings (an idle link then carries bytes every 10 s) and never aborts: a connection
 * is dropped (and redialled) when nothing at all has arrived on it for 20 s (silent-links.ts),
 * which a split network needs, but not because its peer was busy.
 */
export const CONNECTION_LIMITS: ConnectionManagerInit = {
  inboundConnectionThreshold: 100,
  maxIncomingPendingConnections: 100,
};
export const CONNECTION_MONITOR: ConnectionMonitorInit = {
  pingInterval: 10_000,
  pingTimeout: { minTimeout: 20_000, maxTimeout: 60_000 },
  abortConnectionOnPingFailure: false,
};

export function createMeshNode(init: MeshNodeInit): Promise<MeshNode> {
  return createLibp2p<MeshServices>({
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: init.listen.map((m) => m.toString()) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.secret !== undefined ? { connectionProtector: guardedPreSharedKey(pskFromSecret(init.secret), init.onSecretRefused) } : {}),
    connectionGater: init.gater,
    connectionManager: CONNECTION_LIMITS,
    connectionMonitor: CONNECTION_MONITOR,
    logger: errorCapturingLogger(init.onLibp2pError),
    metrics: () => init.meter,
    services: (init.fanout === 'direct' ? { identify: identify() } : { identify: identify(), pubsub: gossipsub(gossipsubOptions(init.fanout)) }) as Libp2pOptions<MeshServices>['services'],
  });
}
