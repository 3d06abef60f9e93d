// @agentmesh/peer/testing: helpers for tests of this package and the packages above it (the
// simulator, the demo): the Transport conformance suite and a bounded poll. The package's main
// entry never imports this; the vitest part needs vitest (an optional peer dependency).
export * from './transport-contract.js';
export { TRANSPORT_CHECKS } from './transport-checks.js';
export { checkTransportContract } from './run-contract.js';
export { runTransportContract } from './transport-contract-vitest.js';
export { until, makeUntil, type Until, type UntilDefaults, type Probe } from './until.js';
