// Who may use the websocket endpoint, decided from a request's URL and headers alone (pure: no
// sockets, no logging, no clock), so every decision is unit-tested on its own.
//
// Loopback by default; beyond loopback a token is mandatory (enforced in config.ts). With a token,
// a request must carry it (`?token=` or `Authorization: Bearer`) and nothing else is checked.
// Without a token (loopback only), requests whose Host header is not a loopback name (DNS
// rebinding) or whose Origin is not a loopback origin or listed in `allowedOrigins` (a web page the
// user happens to visit) are forbidden. Routes that stay open (/healthz) are the router's choice.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/** True for 127.0.0.0/8, ::1 (and its IPv4-mapped forms) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === 'localhost.') return true;
  const kind = isIP(h);
  if (kind === 4) return h.split('.')[0] === '127';
  if (kind === 6) {
    let canon: string;
    try {
      canon = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return false;
    }
    return canon === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canon);
  }
  return false;
}

/** Hostname part of a Host header (`name`, `name:port`, `[v6]:port`). */
export function hostOfHeader(value: string): string {
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end < 0 ? value : value.slice(1, end);
  }
  const colon = value.indexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The endpoint's access rules, prepared once (the token is kept only as a digest). */
export interface AccessRules {
  readonly tokenDigest: Buffer | undefined;
  readonly allowedOrigins: ReadonlySet<string>;
  /** The address the endpoint listens on: a Host header naming it is not a rebinding. */
  readonly host: string;
}

export function accessRules(opts: { token?: string | undefined; allowedOrigins?: readonly string[] | undefined; host: string }): AccessRules {
  return {
    tokenDigest: opts.token === undefined ? undefined : digest(opts.token),
    allowedOrigins: new Set(opts.allowedOrigins ?? []),
    host: opts.host,
  };
}

export type AccessDecision = { kind: 'allow' } | { kind: 'unauthorized' } | { kind: 'forbidden'; reason: string };

/** The request parts a decision reads. */
export type AccessHeaders = Pick<IncomingHttpHeaders, 'authorization' | 'host' | 'origin'>;

/** With a token: does the request carry it (query `token` or `Authorization: Bearer`)? */
function carriesToken(rules: AccessRules, url: URL, headers: AccessHeaders): boolean {
  if (rules.tokenDigest === undefined) return true;
  const tokenDigest = rules.tokenDigest;
  const candidates: string[] = [];
  const q = url.searchParams.get('token');
  if (q !== null) candidates.push(q);
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m?.[1] !== undefined) candidates.push(m[1].trim());
  }
  return candidates.some((c) => timingSafeEqual(digest(c), tokenDigest));
}

/** Without a token: why the request looks DNS-rebound or comes from a foreign page, or null. */
function foreignReason(rules: AccessRules, headers: AccessHeaders): string | null {
  if (rules.tokenDigest !== undefined) return null;
  const hostHeader = headers.host;
  if (typeof hostHeader === 'string' && hostHeader !== '') {
    const h = hostOfHeader(hostHeader);
    if (!isLoopbackHost(h) && h !== rules.host) return `host ${JSON.stringify(hostHeader)} is not loopback`;
  }
  const origin = headers.origin;
  if (typeof origin === 'string' && !rules.allowedOrigins.has(origin)) {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname);
    } catch {
      ok = false;
    }
    if (!ok) return `origin ${JSON.stringify(origin)} is not allowed`;
  }
  return null;
}

/** Decides one request: unauthorized (401) is checked before forbidden (403). */
export function decideAccess(rules: AccessRules, url: URL, headers: AccessHeaders): AccessDecision {
  if (!carriesToken(rules, url, headers)) return { kind: 'unauthorized' };
  const why = foreignReason(rules, headers);
  return why === null ? { kind: 'allow' } : { kind: 'forbidden', reason: why };
}
