// Public API of @agentmesh/agents: the contract agents are written against (what a handler is
// given and returns), the built-in agents as one registry, and their pure compute functions (for
// tests and for the dashboard, which recomputes and explains results). No Node, no libp2p, no Yjs:
// a peer (`@agentmesh/peer`) runs these; this package never depends on it.
export * from './contract.js';
export * from './builtin.js';
export * from './basic.js';
export * from './traffic.js';
export * from './anomaly.js';
export * from './news2.js';
export * from './llm.js';
export { MAX_SERIES_LENGTH } from './validate.js';
