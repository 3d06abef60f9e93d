// The peer's small HTTP JSON API, served on the same port as its y-websocket endpoint. It is what
// `agentmesh submit|status|get|list|cancel|retry|partition|heal` and the dashboard talk to:
// submitting through the peer itself (rather than writing into the document as a plain Yjs client)
// lets `submit` return only after the peer has fsynced the tasks, so an acknowledged task survives
// kill -9. Task pages, lists, bulk retry, shared data and metrics are in api-tasks.ts.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMeshError, type TaskView } from '@agentmesh/scheduler';
import { respond, type ResponseHeaders } from '../http/respond.js';
import type { Peer } from '../peer.js';
import type { TaskInput } from '../task-input.js';
import { routeTasks } from './api-tasks.js';
import { taskDetail, type TaskDetail } from './task-detail.js';
import type { PeerMetrics } from './metrics.js';
import { resolvePeers } from './task-list.js';

export interface PartitionControl {
  block(peerIds: string[]): void | Promise<void>;
  unblockAll(): void | Promise<void>;
  blocked(): string[];
}

/** More of the peer's state for /api/status, from parts the Peer does not own. */
export interface StatusExtras {
  /** The transport's wire counters (`wire` in /api/status), e.g. MeshTransport.wireStats(). */
  wire?: () => unknown;
  /** The peer's metrics ring (GET /api/metrics, GET /metrics, document size in /api/status). */
  metrics?: PeerMetrics;
  /** When this peer process started (ms since epoch). */
  startedAt?: number;
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

/** GET /api/tasks/:id: the task and its page (timeline, runs, dependencies, why it waits). */
export type TaskPageJson = TaskJson & Partial<TaskDetail>;

const MAX_BODY = 16 * 1024 * 1024;

export function taskJson(peer: Peer, v: TaskView, full = false, page = false): TaskJson {
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
  if (page) {
    const detail = taskDetail(peer, v.id, v);
    if (detail) Object.assign(out, detail, { duplicates: v.duplicates.length });
  }
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

/** An HTTP error answer: its status and a message for the JSON body (plus `extra` fields). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** This API has always answered `application/json` without a charset, chunked (no content-length). */
export const API_HEADERS: ResponseHeaders = { 'content-type': 'application/json', 'content-length': null };

/** Agent types (and capability tags) of every peer this one knows, sorted. */
export function knownTypes(peer: Peer): string[] {
  const types = new Set<string>();
  for (const p of peer.document.board.peers()) for (const c of p.capabilities) types.add(c);
  for (const c of peer.capabilities) types.add(c);
  return [...types].sort();
}

/** Refuses tasks of a type no known peer runs (a typo waits forever otherwise). */
function checkTypes(peer: Peer, inputs: TaskInput[]): void {
  const known = new Set(knownTypes(peer));
  const unknown = [...new Set(inputs.map((t) => (t as { type?: unknown }).type).filter((t): t is string => typeof t === 'string' && !known.has(t)))];
  if (unknown.length === 0) return;
  const list = [...known].sort();
  throw new HttpError(400, `no known peer runs agent type${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => JSON.stringify(t)).join(', ')}; known types: ${list.join(', ') || 'none'} (submit anyway with --allow-unknown-type, for agents that join later)`, { code: 'UNKNOWN_TYPE', unknownTypes: unknown, knownTypes: list });
}

/** Peer ids for a partition: names or ids of known peers, or anything shaped like a libp2p peer id. */
function partitionIds(peer: Peer, values: string[]): string[] {
  const known = peer.document.board.peers();
  return values.map((v, i) => {
    const id = resolvePeers(peer, [v])[0]!;
    if (known.some((p) => p.id === id) || /^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]{40,}$/.test(id)) return id;
    throw new HttpError(400, `block[${i}]: ${JSON.stringify(v)} is neither a known peer name nor a peer id (known: ${known.map((p) => p.name).sort().join(', ') || 'none'})`);
  });
}

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
 * Routes: GET /api/status, POST /api/tasks (?refuseUnknownType=1), GET /api/tasks?ids=a,b,
 * GET /api/tasks/:id (the task page), POST /api/tasks/:id/cancel, POST /api/tasks/:id/retry,
 * POST /api/partition {"block":[names or ids]}, POST /api/heal, GET /metrics (Prometheus), and
 * api-tasks.ts: GET /api/list, POST /api/retry-dead, GET /api/data, GET /api/metrics.
 */
export function apiHandler(peer: Peer, partition: PartitionControl | undefined, extras: StatusExtras = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD') && extras.metrics) {
      const text = extras.metrics.prometheus();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
      return true;
    }
    if (!url.pathname.startsWith('/api/')) return false;
    void route(peer, partition, extras, req, res, url).catch((e: unknown) => {
      if (e instanceof HttpError) respond(res, e.status, { error: e.message, ...e.extra }, API_HEADERS);
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
    const blocked = partition?.blocked() ?? [];
    const self = {
      name: peer.name,
      peerId: peer.id,
      capacity: peer.capacity,
      concurrency: peer.concurrency,
      capabilities: peer.capabilities,
      load: peer.load,
      running: peer.runningCount,
      counters: { ...peer.counters },
      ...(extras.startedAt !== undefined ? { startedAt: extras.startedAt } : {}),
    };
    const doc = { bytes: extras.metrics?.lastDocBytes ?? null, tasks: peer.document.board.taskCount, data: peer.document.board.dataCount, archiveBytes: peer.archive.bytes() };
    const blockedNames = blocked.map((id) => peer.peerName(id) ?? id);
    respond(res, 200, { ...status, self, blocked, blockedNames, agentTypes: knownTypes(peer), doc, at: Date.now(), sync: peer.syncStats(), ...(wire !== undefined ? { wire } : {}) }, API_HEADERS);
    return;
  }
  if (path === '/api/doc' && method === 'GET') {
    // The live document's encoded size (costs one full encoding: for benchmarks and diagnostics).
    const mem = process.memoryUsage();
    respond(res, 200, {
      ...peer.docStats(),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      externalBytes: mem.external,
      arrayBuffersBytes: mem.arrayBuffers,
      timing: peer.timingNow(),
    }, API_HEADERS);
    return;
  }
  if (path === '/api/tasks' && method === 'POST') {
    const body = await readJsonBody(req);
    const inputs = submitInputs(body);
    // Asked for by `agentmesh submit` (without --allow-unknown-type): other clients keep the API
    // as it always was, accepting a type an agent that joins later may run.
    if (url.searchParams.get('refuseUnknownType') === '1') checkTypes(peer, inputs);
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
      respond(res, 200, taskJson(peer, v, true, true), API_HEADERS);
      return;
    }
  }
  if (await routeTasks(peer, extras, req, res, url)) return;
  if (path === '/api/partition' && method === 'POST') {
    if (!partition) throw new HttpError(501, 'this peer cannot partition');
    const body = (await readJsonBody(req)) as { block?: unknown };
    if (!Array.isArray(body.block) || body.block.length === 0 || !body.block.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new HttpError(400, 'block must be a non-empty list of peer names or ids');
    }
    const ids = partitionIds(peer, body.block as string[]);
    if (ids.includes(peer.id)) throw new HttpError(400, `a peer cannot block itself (${peer.name})`);
    await partition.block(ids);
    const blocked = partition.blocked();
    respond(res, 200, { blocked, names: blocked.map((id) => peer.peerName(id) ?? id) }, API_HEADERS);
    return;
  }
  if (path === '/api/heal' && method === 'POST') {
    if (!partition) throw new HttpError(501, 'this peer cannot partition');
    const before = partition.blocked();
    await partition.unblockAll();
    respond(res, 200, { blocked: partition.blocked(), healed: before, healedNames: before.map((id) => peer.peerName(id) ?? id) }, API_HEADERS);
    return;
  }
  throw new HttpError(404, `no route ${method} ${path}`);
}
