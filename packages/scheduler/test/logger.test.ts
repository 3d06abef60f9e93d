// Tests for logger.ts: the one logger shape's option check, shared by every package that takes a
// `logger` option (crdt-store's file storage and archive, the transport, the ws endpoint).
import { describe, expect, it } from 'vitest';
import { isMeshError } from '../src/errors.js';
import { resolveLogger, silentLogger, type Logger } from '../src/logger.js';

describe('resolveLogger', () => {
  const mine: Logger = { log: () => {} };

  it('returns the logger given, or the fallback without one', () => {
    expect(resolveLogger({ logger: mine }, silentLogger)).toBe(mine);
    expect(resolveLogger({}, mine)).toBe(mine);
    expect(resolveLogger({ logger: undefined }, mine)).toBe(mine);
    expect(resolveLogger(undefined, mine)).toBe(mine);
    expect(silentLogger.log('error', 'nothing happens')).toBeUndefined();
  });

  it('refuses the retired log option and a logger without log()', () => {
    const refused = (opts: object): unknown => {
      try {
        resolveLogger(opts, silentLogger);
        return null;
      } catch (e) {
        return e;
      }
    };
    const retired = refused({ log: () => {} });
    expect(isMeshError(retired, 'INVALID_ARGUMENT')).toBe(true);
    expect((retired as Error).message).toBe('the log option is now logger: a Logger ({ log(level, msg, fields) })');
    for (const logger of [null, 42, {}, { log: 'x' }, () => {}]) {
      expect(isMeshError(refused({ logger }), 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
