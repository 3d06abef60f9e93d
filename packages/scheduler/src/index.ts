// Public API of @agentmesh/scheduler: pure, deterministic scheduling rules (no I/O, no clock, no Yjs).
export * from './types.js';
export * from './errors.js';
export * from './logger.js';
export * from './hash.js';
export * from './strategies.js';
export * from './rendezvous.js';
export * from './award.js';
export * from './backoff.js';
export * from './lease.js';
export * from './rate.js';
export * from './lifecycle.js';
export * from './retention.js';
export * from './assign.js';
