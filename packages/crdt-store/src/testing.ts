// Entry point '@agentmesh/crdt-store/testing': helpers for other packages' tests, kept out of the
// main entry so no runtime code pulls them in. Framework-free (no vitest import): the Storage
// contract takes the test framework's describe/it as an argument.
export * from './storage-contract.js';
