// The sync layer's public surface: the wire format (sync/wire.ts) and the engine (sync/engine.ts).
export * from './sync/wire.js';
export * from './sync/engine.js';
