// Public API of @agentmesh/crdt-store: the typed document (schema, validation, task board, shared
// data), replica equality, and the persistence interface with its in-memory implementation.
// The file storage is Node-only and lives at '@agentmesh/crdt-store/node'.
export * from './schema.js';
export * from './board.js';
export * from './equality.js';
export * from './log-codec.js';
export * from './log-reader.js';
export * from './update-gaps.js';
export * from './damaged-update.js';
export * from './storage.js';
export * from './memory-storage.js';
export * from './generation.js';
export * from './archive.js';
export * from './archive-summary.js';
export * from './archive-lines.js';
export * from './derive-context.js';
export * from './batch-codec.js';
export * from './trust/encoding.js';
export * from './trust/signature.js';
export * from './trust/trust.js';
export * from './trust/leaves.js';
export { KEEP_MAX, type MemberRemoval } from './member-index.js';
