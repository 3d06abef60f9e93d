// The libp2p transport's log: the project Logger, made safe (a logger that throws never breaks
// the transport) and with rate-limited warnings: one per kind and remote every 10 s, the repeats
// at debug, timed by the injected clock.

import type { Clock } from '../clock.js';
import type { LogLevel, Logger } from '../logger.js';

/** One warning per key this often; the rest go to debug. */
export const WARN_INTERVAL_MS = 10_000;
/** Keys remembered before the table starts over. */
const WARNED_MAX = 1024;

export class MeshLog {
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    try {
      this.logger.log(level, msg, fields);
    } catch {
      // a broken logger must not break the transport
    }
  }

  /** A warning unless one with the same key was logged in the last WARN_INTERVAL_MS (then debug). */
  warnOnce(key: string, msg: string, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    const last = this.warned.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) {
      this.log('debug', msg, fields);
      return;
    }
    this.warned.set(key, now);
    if (this.warned.size > WARNED_MAX) this.warned.clear();
    this.log('warn', msg, fields);
  }
}
