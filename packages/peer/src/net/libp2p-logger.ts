// A libp2p ComponentLogger that keeps libp2p quiet but lets the transport see its error lines.
// libp2p reports a refused inbound connection (bad pre-shared key, failed Noise handshake, gater
// denial) nowhere but its own logger: the upgrader logs 'failed to upgrade inbound connection from
// <addr>' and the TCP listener logs 'inbound connection upgrade failed'; no event is emitted. So the
// transport passes this logger to createLibp2p and turns those lines into its own warnings.
// Debug and trace lines are dropped (`enabled: false`); DEBUG=libp2p* output is therefore off.

import type { ComponentLogger, Logger } from '@libp2p/interface';

export type Libp2pErrorSink = (component: string, format: string, args: unknown[]) => void;

function makeLogger(name: string, sink: Libp2pErrorSink): Logger {
  const log = (() => {}) as unknown as Logger;
  log.error = (format: unknown, ...args: unknown[]) => {
    try {
      sink(name, typeof format === 'string' ? format : String(format), args);
    } catch {
      // a logger must never throw into libp2p
    }
  };
  log.trace = () => {};
  log.enabled = false;
  log.newScope = (scope: string) => makeLogger(`${name}:${scope}`, sink);
  return log;
}

export function errorCapturingLogger(sink: Libp2pErrorSink): ComponentLogger {
  return { forComponent: (name: string) => makeLogger(name, sink) };
}

/** Renders a libp2p printf-style line ('%s', '%a', '%p', '%e', ...) as plain text. */
export function formatLibp2pLine(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%[a-zA-Z%]/g, (spec) => {
    if (spec === '%%') return '%';
    const v = args[i++];
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    if (v === undefined) return '';
    try {
      return typeof v === 'string' ? v : typeof (v as { toString?: unknown }).toString === 'function' ? String(v) : JSON.stringify(v);
    } catch {
      return '?';
    }
  });
}
