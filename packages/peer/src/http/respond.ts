// The one JSON answer of every HTTP surface in the project (the websocket endpoint's /healthz and
// /status, the peer's CLI API, the demo's control server), so they cannot drift apart. Each surface
// keeps the exact headers it has always sent by passing them as overrides.

import type { ServerResponse } from 'node:http';

/** Headers added to (or overriding) the defaults; `null` drops a default header. */
export type ResponseHeaders = Readonly<Record<string, string | number | null>>;

/**
 * Answers `status` with `body` as JSON. Default headers, in this order: `content-type:
 * application/json; charset=utf-8`, `cache-control: no-store`, `content-length`. A HEAD request gets
 * the same headers and no body. Drop `content-length` (`{ 'content-length': null }`) for a chunked
 * answer.
 */
export function respond(res: ServerResponse, status: number, body: unknown, headers: ResponseHeaders = {}): void {
  const text = JSON.stringify(body) ?? 'null';
  const all: Record<string, string | number | null> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  };
  const out: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(all)) if (value !== null) out[name] = value;
  res.writeHead(status, out);
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
