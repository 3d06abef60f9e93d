// More routes of the peer's HTTP API (api.ts has the rest and the error handling):
//   GET  /api/list?state=&type=&peer=&since=&q=&sort=&order=&limit=&offset=
//        one page of the tasks this peer knows, live and archived (task-list.ts)
//   POST /api/retry-dead {"ids"?: [...], "type"?: T, "limit"?: N}
//        revives dead tasks (the given ones, or every dead one, live or archived); says which failed and why
//   GET  /api/data?ns=&limit=   shared data written by agents, newest first
//   GET  /api/metrics?since=MS  the peer's metrics ring (metrics.ts), for charts that survive a reload
//   POST /api/members/remove {"peer": ID or name}  removes a member (docs/security.md)

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMeshError } from '@agentmesh/scheduler';
import { respond } from '../http/respond.js';
import type { Peer } from '../peer.js';
import { API_HEADERS, HttpError, readJsonBody, type StatusExtras } from './api.js';
import { listTasks, parseListQuery } from './task-list.js';

const MAX_RETRY = 10_000;

async function retryDead(peer: Peer, body: { ids?: unknown; type?: unknown; limit?: unknown }): Promise<{ retried: string[]; failed: { id: string; error: string }[]; remaining: number }> {
  let ids: string[];
  let remaining = 0;
  if (body.ids !== undefined) {
    if (!Array.isArray(body.ids) || !body.ids.every((x) => typeof x === 'string' && x.length > 0)) throw new HttpError(400, 'ids must be a list of task ids');
    ids = body.ids as string[];
  } else {
    const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.min(body.limit, MAX_RETRY) : MAX_RETRY;
    const page = listTasks(peer, { states: ['dead'], ...(typeof body.type === 'string' ? { type: body.type } : {}), limit: Math.min(limit, 1000), sort: 'created', desc: false });
    ids = page.tasks.map((t) => t.id);
    remaining = Math.max(0, page.total - ids.length);
  }
  const retried: string[] = [];
  const failed: { id: string; error: string }[] = [];
  for (const id of ids.slice(0, MAX_RETRY)) {
    try {
      await peer.retry(id);
      retried.push(id);
    } catch (e) {
      failed.push({ id, error: isMeshError(e) ? e.message : String((e as Error).message ?? e) });
    }
  }
  return { retried, failed, remaining };
}

/** Handles the routes above; false when the request is none of them. */
export async function routeTasks(peer: Peer, extras: StatusExtras, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/api/list' && method === 'GET') {
    let q;
    try {
      q = parseListQuery(url.searchParams);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    respond(res, 200, listTasks(peer, q), API_HEADERS);
    return true;
  }
  if (path === '/api/retry-dead' && method === 'POST') {
    const body = (await readJsonBody(req)) as { ids?: unknown; type?: unknown; limit?: unknown };
    respond(res, 200, await retryDead(peer, body), API_HEADERS);
    return true;
  }
  if (path === '/api/data' && method === 'GET') {
    const ns = url.searchParams.get('ns') ?? undefined;
    const limit = Math.max(1, Math.min(Number(url.searchParams.get('limit') ?? 200) || 200, 5000));
    const all = peer.document.board.data(ns);
    const namespaces: Record<string, number> = {};
    for (const e of all) namespaces[e.namespace] = (namespaces[e.namespace] ?? 0) + 1;
    const entries = all
      .sort((a, b) => b.at - a.at)
      .slice(0, limit)
      .map((e) => ({ namespace: e.namespace, key: e.key, value: e.value, by: e.by, byName: peer.peerName(e.by) ?? null, at: e.at, task: e.task ?? null }));
    respond(res, 200, { entries, namespaces, total: all.length }, API_HEADERS);
    return true;
  }
  if (path === '/api/members/remove' && method === 'POST') {
    const body = (await readJsonBody(req)) as { peer?: unknown };
    if (typeof body.peer !== 'string' || body.peer.length === 0) throw new HttpError(400, 'peer must be a peer id or name');
    const named = peer.document.board.peers().find((p) => p.name === body.peer);
    const id = named?.id ?? body.peer;
    const name = peer.peerName(id) ?? null; // asked first: a removed member leaves the registry
    try {
      const r = await peer.members.remove(id);
      respond(res, 200, { removed: r.peer, name, by: r.by, at: r.at, kept: r.keep.length, members: { removed: peer.members.removed() } }, API_HEADERS);
    } catch (e) {
      if (isMeshError(e, 'INVALID_ARGUMENT')) throw new HttpError(400, e.message);
      throw e;
    }
    return true;
  }
  if (path === '/api/metrics' && method === 'GET') {
    if (!extras.metrics) throw new HttpError(501, 'this peer keeps no metrics');
    const since = Number(url.searchParams.get('since') ?? 0) || 0;
    respond(res, 200, { name: peer.name, peerId: peer.id, capacity: peer.capacity, intervalMs: extras.metrics.intervalMs, samples: extras.metrics.samples(since) }, API_HEADERS);
    return true;
  }
  return false;
}
