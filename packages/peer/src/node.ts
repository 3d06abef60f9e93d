// Public API of '@agentmesh/peer/node': everything in the core ('@agentmesh/peer') plus the
// Node-only parts of a real peer: the libp2p transport (which installs a Promise.withResolvers
// polyfill on import), the y-websocket endpoint, file storage and archive (from
// @agentmesh/crdt-store/node), and the CLI internals other tools reuse (the HTTP API handler and
// spawning `agentmesh peer` processes).
export * from './index.js';
export * from './ws-endpoint.js';
export * from './net/libp2p-transport.js';
export { FileArchive, FileStorage, openFileStorage, type FileArchiveOptions, type FileStorageOptions } from '@agentmesh/crdt-store/node';
export { respond, type ResponseHeaders } from './http/respond.js';
export { apiHandler, taskJson, readJsonBody, HttpError, type TaskJson, type PartitionControl, type StatusExtras } from './cli/api.js';
export { spawnPeer, type ReadyLine } from './cli/up-command.js';
export { PEER_NODE_FLAGS } from './cli/node-flags.js';
export { stopChild, isRunning } from './cli/processes.js';
export { nodeSignatureScheme, ed25519Signer, peerKeySigner, peerTrustOptions } from './net/node-signing.js';
