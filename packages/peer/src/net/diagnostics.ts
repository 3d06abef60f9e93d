// What libp2p reports only in its log, turned into the transport's own warnings. A refused inbound
// connection (bad pre-shared key, failed Noise handshake, gater denial) raises no event: the
// upgrader logs 'failed to upgrade inbound connection' and the TCP listener 'inbound connection
// upgrade failed' (libp2p-logger.ts routes those lines here). The pnet guard reports a secret
// mismatch itself (onSecretRefused). Also the error-text helpers the other parts log with.

import { errorDetail } from '../errors.js';
import { hostOfAddr } from './address-book.js';
import { formatLibp2pLine } from './libp2p-logger.js';
import type { MeshComponents, Startable } from './service.js';

/** Error text for the transport's log lines (the project's one `errorDetail`). */
export const errText = errorDetail;

/** The names of an error and of every error an AggregateError holds. */
export function errNames(e: unknown): string[] {
  if (e instanceof AggregateError) return [e.name, ...e.errors.flatMap(errNames)];
  if (e instanceof Error) return [e.name];
  return [];
}

/** Errors that mean the security handshake (pnet + Noise) failed, i.e. likely a secret mismatch. */
export function isHandshakeFailure(e: unknown): boolean {
  return errNames(e).some((n) => n === 'EncryptionFailedError' || n === 'InvalidCryptoExchangeError' || n === 'UnexpectedPeerError');
}

/** A libp2p error line: an inbound connection refused while upgrading, or anything else. */
export type Libp2pLine = { kind: 'inbound-refused'; error: unknown; remote: string | undefined } | { kind: 'other'; text: string };

export function classifyLibp2pLine(format: string, args: unknown[]): Libp2pLine {
  if (format.startsWith('failed to upgrade') && args[0] === 'inbound') {
    return { kind: 'inbound-refused', error: args[3], remote: args[2] === undefined ? undefined : String(args[2]) };
  }
  if (format.startsWith('inbound connection upgrade failed')) return { kind: 'inbound-refused', error: args[0], remote: undefined };
  return { kind: 'other', text: formatLibp2pLine(format, args) };
}

/**
 * Why an inbound connection was refused: a secret mismatch (the pnet guard reported it already),
 * a blocked peer, the connection limit, or a failed handshake (likely a wrong or missing secret).
 */
export type RefusalCause = 'secret' | 'blocked' | 'limit' | 'handshake';

export function refusalCause(error: unknown): RefusalCause {
  const names = errNames(error);
  if (names.includes('MeshSecretMismatchError')) return 'secret';
  if (names.includes('ConnectionInterceptedError')) return 'blocked';
  if (names.includes('ConnectionDeniedError')) return 'limit';
  return 'handshake';
}

export const HANDSHAKE_REFUSED = 'refused connection: handshake failed (wrong or missing mesh secret?)';

export interface DiagnosticsInit {
  /** A mesh secret is set (said in the refusal warning). */
  privateMesh: boolean;
}

export class Diagnostics implements Startable {
  /** libp2p logs one refusal on more than one line; each error is reported once. */
  private readonly seenErrors = new WeakSet<object>();
  private stopped = false;

  constructor(
    private readonly c: Pick<MeshComponents, 'log' | 'stats'>,
    private readonly init: DiagnosticsInit,
  ) {}

  stop(): void {
    this.stopped = true;
  }

  /** A libp2p error line (see libp2p-logger.ts). */
  onLibp2pError(component: string, format: string, args: unknown[]): void {
    const line = classifyLibp2pLine(format, args);
    if (line.kind === 'inbound-refused') this.noteInboundRefusal(line.error, line.remote);
    else this.c.log.log('debug', `libp2p: ${line.text}`, { component });
  }

  /** The pnet guard refused a connection (see pnet-guard.ts). */
  onSecretRefused(info: { direction: 'inbound' | 'outbound'; remoteAddr: string | undefined; reason: string }): void {
    if (this.stopped) return;
    if (info.direction === 'inbound') this.c.stats.refusedConnections++;
    const msg = info.direction === 'inbound' ? HANDSHAKE_REFUSED : 'connection refused by remote: handshake failed (wrong or missing mesh secret?)';
    this.c.log.warnOnce(`secret:${info.direction}:${hostOfAddr(info.remoteAddr)}`, msg, { remote: info.remoteAddr, direction: info.direction, reason: info.reason });
  }

  private noteInboundRefusal(err: unknown, remote: string | undefined): void {
    if (typeof err === 'object' && err !== null) {
      if (this.seenErrors.has(err)) return;
      this.seenErrors.add(err);
    }
    if (this.stopped) return;
    const cause = refusalCause(err);
    if (cause === 'secret') return; // reported by onSecretRefused
    if (cause === 'blocked') {
      this.c.log.log('debug', 'refused connection from blocked peer', { remote, error: errText(err) });
      return;
    }
    if (cause === 'limit') {
      this.c.log.log('debug', 'refused connection: connection limit reached', { remote, error: errText(err) });
      return;
    }
    this.c.stats.refusedConnections++;
    this.c.log.warnOnce(`inbound:${hostOfAddr(remote)}`, HANDSHAKE_REFUSED, { remote, privateMesh: this.init.privateMesh, error: errText(err) });
  }
}

export function diagnostics(init: DiagnosticsInit): (components: Pick<MeshComponents, 'log' | 'stats'>) => Diagnostics {
  return (components) => new Diagnostics(components, init);
}
