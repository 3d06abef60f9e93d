// What every client command shares: the --peer, --token and --json flags, the peer's HTTP API
// address (the same host and port as its websocket URL), one call to it, and printing an answer
// as JSON (--json) or as text.

import { UsageError, type FlagValues } from './flags.js';

export const peerFlag = { name: 'peer', type: 'string', arg: 'WSURL', help: "a peer's websocket URL, as printed in its ready line", env: 'AGENTMESH_PEER', required: true } as const;
export const tokenFlag = { name: 'token', type: 'string', arg: 'TOKEN', help: "the peer's --ws-token, if it has one", env: 'AGENTMESH_TOKEN' } as const;
export const jsonFlag = { name: 'json', type: 'bool', help: 'print JSON lines on stdout' } as const;

/** http://host:port from ws://host:port/room. */
export function apiBase(wsUrl: string): string {
  let u: URL;
  try {
    u = new URL(wsUrl);
  } catch {
    throw new UsageError(`--peer must be a websocket URL like ws://127.0.0.1:PORT/agentmesh, got ${JSON.stringify(wsUrl)}`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new UsageError(`--peer must start with ws:// or wss://, got ${JSON.stringify(wsUrl)}`);
  return `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}`;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The peer's JSON answer, when it gave one. */
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export async function callApi(v: FlagValues, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const base = apiBase(String(v.peer));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (v.token) headers.authorization = `Bearer ${String(v.token)}`;
  let res: Response;
  try {
    res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
  } catch (e) {
    throw new ApiError(0, `cannot reach peer at ${base}: ${(e as Error).cause ? String((e as Error & { cause: Error }).cause.message) : (e as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 401) {
    throw new ApiError(401, v.token ? `the peer at ${base} refused the --token given (401 unauthorized)` : `this peer needs --token (or $AGENTMESH_TOKEN): the peer at ${base} answered 401 unauthorized`);
  }
  let json: any;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(res.status, `peer answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new ApiError(res.status, json?.error ?? `peer answered ${res.status}`, typeof json === 'object' && json !== null ? json : {});
  return json;
}

export function out(v: FlagValues, json: unknown, text: string): void {
  process.stdout.write((v.json ? JSON.stringify(json) : text) + '\n');
}

