// The project's one logger shape, at the bottom of the layering so every package (crdt-store's
// file storage, the peer, its transport and ws endpoint) takes the same injected Logger. Types,
// a no-op and the check of a `logger` option only: no I/O here (the line writer lives in
// @agentmesh/peer's logger.ts).

import { MeshError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { log: () => {} };

/**
 * The `logger` option of `opts`, or `fallback` when it is absent. Throws MeshError
 * INVALID_ARGUMENT for the retired `log` option (a plain-JS caller of an older API) and for a
 * logger without a log() method.
 */
export function resolveLogger(opts: object | null | undefined, fallback: Logger): Logger {
  if (opts === null || typeof opts !== 'object') return fallback;
  if ('log' in opts) throw new MeshError('INVALID_ARGUMENT', 'the log option is now logger: a Logger ({ log(level, msg, fields) })');
  const logger = (opts as { logger?: unknown }).logger;
  if (logger === undefined) return fallback;
  if (logger === null || typeof (logger as Partial<Logger>).log !== 'function') {
    throw new MeshError('INVALID_ARGUMENT', 'logger must be a Logger ({ log(level, msg, fields) })');
  }
  return logger as Logger;
}
