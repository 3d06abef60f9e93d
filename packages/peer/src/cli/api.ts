// The peer's small HTTP JSON API, served on the same port as its y-websocket endpoint. It is what
// `agentmesh submit|status|get|cancel|partition|heal` talk to: submitting through the peer itself
// (rather than writing into the document as a plain Yjs client) lets `submit` return only after the
// peer has fsynced the tasks, so an acknowledged task survives kill -9.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMeshError, type TaskView } from '@agentmesh/scheduler';
import { respond, type ResponseHeaders } from '../http/respond.js';
import type { Peer } from '../peer.js';
import type { TaskInput } from '../task-input.js';

export interface PartitionControl {
  block(peerIds: string[]): void | Promise<void>;
  unblockAll(): void | Promise<void>;
  blocked(): string[];
}

/** More of the peer's state for /api/status, from parts the Peer does not own. */
export interface StatusExtras {
  /** The transport's wire counters (`wire` in /api/status), e.g. MeshTransport.wireStats(). */
  wire?: () => unknown;
}

/** The public JSON shape of one task (`agentmesh submit --wait`, `agentmesh get`). */
export interface TaskJson {
  id: string;
  type: string;
  state: string;
  result: unknown;
  attempts: number;
  peer: string | null;
  error?: string;
  errors?: string[];
  duplicates?: number;
  createdAt?: number;
  /** True when the task has left the live document and this answer comes from the peer's archive. */
  archived?: boolean;
}

const MAX_BODY = 16 * 1024 * 1024;

export function taskJson(peer: Peer, v: TaskView, full = false): TaskJson {
  const live = peer.taskSpec(v.id);
  const rec = live ? undefined : peer.archived(v.id);
  const spec = live ?? (rec ? (rec.spec as { type?: string; createdAt?: number }) : undefined);
  const who = v.result?.peer ?? v.claim?.peer;
  const out: TaskJson = {
    id: v.id,
    type: spec?.type ?? '',
    state: v.state,
    result: v.result ? v.result.result : null,
    attempts: v.attempts,
    peer: who ? (peer.peerName(who) ?? who) : null,
  };
  const lastError = v.errors.at(-1)?.error;
  if (lastError !== undefined) out.error = lastError;
  if (full) {
    out.errors = v.errors.map((e) => e.error);
    out.duplicates = v.duplicates.length;
    if (spec && typeof spec.createdAt === 'number') out.createdAt = spec.createdAt;
  }
  if (rec) out.archived = true;
  return out;
}

/** Reads a JSON request body of at most `maxBytes`; a bad one is an HttpError (413 or 400). */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `request body over ${maxBytes} bytes`);
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

/** An HTTP error answer: its status and a message for the JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** This API has always answered `application/json` without a charset, chunked (no content-length). */
const API_HEADERS: ResponseHeaders = { 'content-type': 'application/json', 'content-length': null };

/** Parses a submit body: `{ "tasks": [TaskInput...] }` or one TaskInput with an optional `count`. */
export function submitInputs(body: unknown): TaskInput[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.tasks)) {
    if (b.tasks.length === 0 || b.tasks.length > 100_000) throw new HttpError(400, 'tasks must hold 1..100000 entries');
    return b.tasks as TaskInput[];
  }
  const count = b.count ?? 1;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > 100_000) throw new HttpError(400, 'count must be an integer in 1..100000');
  const { count: _c, ...one } = b;
  if (count > 1 && one.key !== undefined) throw new HttpError(400, 'an idempotency key names one task: it cannot be used with count > 1');
  return Array.from({ length: count }, () => ({ ...(one as unknown as TaskInput) }));
}

/**
 * Returns an HTTP handler for /api/* routes (true when it handled the request).
 * Routes: GET /api/status, POST /api/tasks, GET /api/tasks?ids=a,b, GET /api/tasks/:id,
 * POST /api/tasks/:id/cancel, POST /api/tasks/:id/retry, POST /api/partition {"block":[ids]}, POST /api/heal.
 */
export function apiHandler(peer: Peer, partition: PartitionControl | undefined, extras: StatusExtras = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/api/')) return false;
    void route(peer, partition, extras, req, res, url).catch((e: unknown) => {
      if (e instanceof HttpError) respond(res, e.status, { error: e.message }, API_HEADERS);
      else if (isMeshError(e)) respond(res, e.code === 'NOT_FOUND' ? 404 : e.code === 'CLOSED' ? 503 : 400, { error: e.message, code: e.code }, API_HEADERS);
      else respond(res, 500, { error: (e as Error).message ?? String(e) }, API_HEADERS);
    });
    return true;
  };
}

async function route(peer: Peer, partition: PartitionControl | undefined, extras: StatusExtras, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/api/status' && method === 'GET') {
    const status = peer.status();
    const wire = extras.wire?.();
    respond(res, 200, { ...status, self: { name: peer.name, peerId: peer.id }, blocked: partition?.blocked() ?? [], sync: peer.syncStats(), ...(wire !== undefined ? { wire } : {}) }, API_HEADERS);
    return;
  }
  if (path === '/api/doc' && method === 'GET') {
    // The live document's encoded size (costs one full encoding: for benchmarks and diagnostics).
    respond(res, 200, {
      ...peer.docStats(),
      rssBytes: process.memoryUsage().rss,
      heapUsedBytes: process.memoryUsage().heapUsed,
      timing: peer.timingNow(),
    }, API_HEADERS);
    return;
  }
  if (path === '/api/tasks' && method === 'POST') {
    const inputs = submitInputs(await readJsonBody(req));
    const specs = await peer.submit(inputs);
    respond(res, 200, { ids: specs.map((s) => s.id) }, API_HEADERS);
    return;
  }
  if (path === '/api/tasks' && method === 'GET') {
    const ids = (url.searchParams.get('ids') ?? '').split(',').filter(Boolean);
    const views = ids.length > 0 ? ids.map((id) => peer.view(id) ?? peer.archivedView(id)) : peer.views();
    respond(res, 200, {
      tasks: views.map((v, i) => (v ? taskJson(peer, v) : { id: ids[i]!, state: 'unknown', result: null, attempts: 0, peer: null })),
    }, API_HEADERS);
    return;
  }
  const m = /^\/api\/tasks\/([^/]+)(\/cancel|\/retry)?$/.exec(path);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      throw new HttpError(400, `malformed task id in path: ${JSON.stringify(m[1])} is not valid percent-encoding`);
    }
    if (m[2] === '/retry' && method === 'POST') {
      respond(res, 200, taskJson(peer, await peer.retry(id), true), API_HEADERS);
      return;
    }
    if (m[2] === '/cancel' && method === 'POST') {
      const body = (await readJsonBody(req)) as { reason?: unknown };
      await peer.cancel(id, typeof body.reason === 'string' ? body.reason : 'cancelled');
      const v = peer.view(id);
      respond(res, 200, v ? taskJson(peer, v, true) : { id }, API_HEADERS);
      return;
    }
    if (!m[2] && method === 'GET') {
      const v = peer.view(id) ?? peer.archivedView(id);
      if (!v) throw new HttpError(404, `no task ${id}`);
      respond(res, 200, taskJson(peer, v, true), API_HEADERS);
      return;
    }
  }
  if (path === '/api/partition' && method === 'POST') {
    if (!partition) throw new HttpError(501, 'this peer cannot partition');
    const body = (await readJsonBody(req)) as { block?: unknown };
    if (!Array.isArray(body.block) || body.block.length === 0 || !body.block.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new HttpError(400, 'block must be a non-empty list of peer ids');
    }
    if ((body.block as string[]).includes(peer.id)) throw new HttpError(400, `a peer cannot block itself (${peer.id} is this peer's own id)`);
    await partition.block(body.block as string[]);
    respond(res, 200, { blocked: partition.blocked() }, API_HEADERS);
    return;
  }
  if (path === '/api/heal' && method === 'POST') {
    if (!partition) throw new HttpError(501, 'this peer cannot partition');
    await partition.unblockAll();
    respond(res, 200, { blocked: partition.blocked() }, API_HEADERS);
    return;
  }
  throw new HttpError(404, `no route ${method} ${path}`);
}
