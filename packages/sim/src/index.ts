// Public API of @agentmesh/sim: the seeded deterministic simulator and the brief's worked case.
export * from './scheduler.js';
export * from './network.js';
export * from './runner.js';
export * from './checks.js';
export * from './agents.js';
export * from './worked-case.js';
export * from './args.js';
export * from './report.js';
export * from './duplicates.js';
export * from './reachability.js';
export * from './heal-budget.js';
export * from './sweep.js';
