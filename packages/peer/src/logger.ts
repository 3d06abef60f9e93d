// Structured logging, injected. Peers log JSON-able fields; the CLI decides where lines go
// (stderr, so stdout stays clean for --json output) and the simulator keeps them quiet.
// The Logger shape itself lives in @agentmesh/scheduler (so crdt-store takes it too); this file
// adds the one writer of lines.

import type { LogLevel, Logger } from '@agentmesh/scheduler';

export { silentLogger, type LogLevel, type Logger } from '@agentmesh/scheduler';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger that writes one line per entry to a sink, at or above `min`. */
export function lineLogger(write: (line: string) => void, opts: { min?: LogLevel; json?: boolean; name?: string } = {}): Logger {
  const min = ORDER[opts.min ?? 'info'];
  return {
    log(level, msg, fields) {
      if (ORDER[level] < min) return;
      if (opts.json) {
        write(JSON.stringify({ level, msg, peer: opts.name, ...fields }));
      } else {
        const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
        write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${opts.name ? `[${opts.name}] ` : ''}${msg}${extra}`);
      }
    },
  };
}
