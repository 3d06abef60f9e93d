// Public API of @agentmesh/peer, the browser-safe core: the transport-agnostic Peer, the Yjs sync
// protocol, the Transport interface with the in-memory hub, the injected clock and logger, task
// input, the agent contract (from @agentmesh/agents) and the board digest. Nothing reachable from
// here may import libp2p, ws, node:* modules or a global polyfill (test/entry-browser-safe.test.ts
// checks it); those live in '@agentmesh/peer/node'.
export * from './clock.js';
export * from './logger.js';
export * from './transport.js';
export * from './sync.js';
export * from './agents.js';
export * from './task-input.js';
export * from './emitter.js';
export * from './peer.js';
export * from './board-digest.js';
export type { PeerTrustOptions, TrustStatus } from './peer/trust.js';
