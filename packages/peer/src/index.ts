// Public API of @agentmesh/peer: the transport-agnostic Peer core, the Yjs sync protocol,
// and the injected parts (clock, transport, logger, agents).
export * from './clock.js';
export * from './logger.js';
export * from './transport.js';
export * from './sync.js';
export * from './agents.js';
export * from './task-input.js';
export * from './emitter.js';
export * from './peer.js';
export * from './agents/index.js';
export * from './ws-endpoint.js';
export * from './net/libp2p-transport.js';
export { apiHandler, taskJson, readJsonBody, HttpError, type TaskJson, type PartitionControl } from './cli/api.js';
export { spawnPeer, type ReadyLine } from './cli/up-command.js';
export { stopChild, isRunning } from './cli/processes.js';
