// GET /api/list?state=&type=&peer=&since=&q=&duplicated=1&sort=&order=&limit=&offset=
// List and search over every task a peer knows: the live document's (derived now) and the
// archive's (answered by its indexes), merged into one order and cut into pages, so `agentmesh
// list` and the dashboard's task table page through thousands of tasks the same way. Peer names
// are accepted wherever peer ids are.

import { TASK_STATES, isTerminal, type TaskState, type TaskView } from '@agentmesh/scheduler';
import { ARCHIVE_SORTS, type ArchiveSort, type ArchivedState } from '@agentmesh/crdt-store';
import type { Peer } from '../peer.js';

export interface ListQuery {
  states?: TaskState[];
  type?: string;
  /** Peer ids or names. */
  peers?: string[];
  since?: number;
  text?: string;
  /** Only tasks with duplicate runs. */
  duplicated?: boolean;
  sort?: ArchiveSort;
  desc?: boolean;
  limit?: number;
  offset?: number;
}

/** One row of a task list (the same for live and archived tasks). */
export interface ListRow {
  id: string;
  type: string;
  state: TaskState;
  /** Name (or id, if unknown) of the peer that produced the result, or ran the latest attempt. */
  peer: string | null;
  peerId: string | null;
  createdAt: number | null;
  finishedAt: number | null;
  attempts: number;
  duplicates: number;
  key: string | null;
  error: string | null;
  archived: boolean;
}

export interface ListResult {
  tasks: ListRow[];
  total: number;
  offset: number;
  limit: number;
  /** Matching tasks in the live document and in the archive (a task in both counts once, live). */
  live: number;
  archived: number;
}

export const MAX_LIMIT = 1000;

/** Peer ids for names or ids (a value that names no known peer is kept as given). */
export function resolvePeers(peer: Peer, values: readonly string[]): string[] {
  const known = peer.document.board.peers();
  return values.map((v) => known.find((p) => p.name === v)?.id ?? known.find((p) => p.id === v)?.id ?? v);
}

function liveRow(peer: Peer, v: TaskView): ListRow {
  const spec = peer.taskSpec(v.id);
  const who = v.result?.peer ?? v.claim?.peer ?? v.errors.at(-1)?.peer ?? v.assignee ?? null;
  const last = v.errors.at(-1);
  const ended = v.result?.at ?? (isTerminal(v.state) ? (last?.at ?? null) : null);
  return {
    id: v.id,
    type: spec?.type ?? '',
    state: v.state,
    peer: who ? (peer.peerName(who) ?? who) : null,
    peerId: who,
    createdAt: spec?.createdAt ?? null,
    finishedAt: ended,
    attempts: v.attempts,
    duplicates: v.duplicates.length,
    key: spec?.key ?? null,
    error: last?.error ?? null,
    archived: false,
  };
}

function sortKey(r: ListRow, sort: ArchiveSort): string | number {
  switch (sort) {
    case 'created':
      return r.createdAt ?? r.finishedAt ?? 0;
    case 'finished':
      return r.finishedAt ?? Number.MAX_SAFE_INTEGER;
    case 'state':
      return r.state;
    case 'type':
      return r.type;
    case 'peer':
      return r.peerId ?? '';
    case 'attempts':
      return r.attempts;
    case 'id':
      return r.id;
  }
}

export function compareRows(sort: ArchiveSort, desc: boolean): (a: ListRow, b: ListRow) => number {
  const dir = desc ? -1 : 1;
  return (a, b) => {
    const x = sortKey(a, sort);
    const y = sortKey(b, sort);
    if (x !== y) return (x < y ? -1 : 1) * dir;
    return a.id === b.id ? 0 : (a.id < b.id ? -1 : 1) * dir;
  };
}

/** Parses the query string of GET /api/list; throws a message for a bad value. */
export function parseListQuery(sp: URLSearchParams): ListQuery {
  const q: ListQuery = {};
  const states = sp.get('state');
  if (states) {
    const list = states.split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of list) if (!(TASK_STATES as readonly string[]).includes(s)) throw new Error(`state must be one of ${TASK_STATES.join(', ')}, got ${JSON.stringify(s)}`);
    q.states = list as TaskState[];
  }
  const type = sp.get('type');
  if (type) q.type = type;
  const peers = sp.get('peer');
  if (peers) q.peers = peers.split(',').map((s) => s.trim()).filter(Boolean);
  const num = (k: string, min: number, max: number): number | undefined => {
    const t = sp.get(k);
    if (t === null || t === '') return undefined;
    const n = Number(t);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${k} must be a number in ${min}..${max}, got ${JSON.stringify(t)}`);
    return n;
  };
  const since = num('since', 0, 8.64e15);
  if (since !== undefined) q.since = since;
  const text = sp.get('q');
  if (text) q.text = text;
  if (sp.get('duplicated') === '1') q.duplicated = true;
  const sort = sp.get('sort');
  if (sort) {
    if (!(ARCHIVE_SORTS as readonly string[]).includes(sort)) throw new Error(`sort must be one of ${ARCHIVE_SORTS.join(', ')}, got ${JSON.stringify(sort)}`);
    q.sort = sort as ArchiveSort;
  }
  const order = sp.get('order');
  if (order) {
    if (order !== 'asc' && order !== 'desc') throw new Error(`order must be asc or desc, got ${JSON.stringify(order)}`);
    q.desc = order === 'desc';
  }
  const limit = num('limit', 0, MAX_LIMIT);
  if (limit !== undefined) q.limit = Math.floor(limit);
  const offset = num('offset', 0, 1e9);
  if (offset !== undefined) q.offset = Math.floor(offset);
  return q;
}

function matchesLive(r: ListRow, q: ListQuery, peerIds: string[] | undefined): boolean {
  if (q.states && q.states.length > 0 && !q.states.includes(r.state)) return false;
  if (q.type !== undefined && r.type !== q.type) return false;
  if (peerIds && (r.peerId === null || !peerIds.includes(r.peerId))) return false;
  if (q.since !== undefined && (r.createdAt ?? 0) < q.since) return false;
  if (q.duplicated && r.duplicates === 0) return false;
  if (q.text) {
    const t = q.text.toLowerCase();
    if (![r.id, r.type, r.key ?? '', r.peerId ?? '', r.peer ?? '', r.error ?? ''].join('\n').toLowerCase().includes(t)) return false;
  }
  return true;
}

/** One page of the tasks matching `q`, live and archived, in one order. */
export function listTasks(peer: Peer, q: ListQuery, now = Date.now()): ListResult {
  const sort = q.sort ?? 'created';
  const desc = q.desc ?? true;
  const limit = Math.min(q.limit ?? 50, MAX_LIMIT);
  const offset = q.offset ?? 0;
  const peerIds = q.peers && q.peers.length > 0 ? resolvePeers(peer, q.peers) : undefined;
  const live: ListRow[] = [];
  const liveIds = new Set<string>();
  for (const v of peer.views(now)) {
    liveIds.add(v.id);
    const r = liveRow(peer, v);
    if (matchesLive(r, q, peerIds)) live.push(r);
  }
  const cmp = compareRows(sort, desc);
  live.sort(cmp);
  const archive = peer.archive;
  const archivedStates = (q.states ?? ['done', 'dead', 'cancelled']).filter((s): s is ArchivedState => s === 'done' || s === 'dead' || s === 'cancelled');
  let archived: ListRow[] = [];
  let archivedTotal = 0;
  if (archive.query && archivedStates.length > 0) {
    // Enough archived rows to fill the page after merging (rows also live are dropped).
    const res = archive.query({
      states: archivedStates,
      ...(q.type !== undefined ? { type: q.type } : {}),
      ...(peerIds ? { peers: peerIds } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.text ? { text: q.text } : {}),
      ...(q.duplicated ? { duplicated: true } : {}),
      sort,
      desc,
      limit: offset + limit + Math.min(liveIds.size, 1000),
      offset: 0,
    });
    archivedTotal = res.total;
    archived = res.rows
      .filter((s) => !liveIds.has(s.id))
      .map((s) => ({
        id: s.id,
        type: s.type,
        state: s.state,
        peer: s.peer ? (peer.peerName(s.peer) ?? s.peer) : null,
        peerId: s.peer,
        createdAt: s.createdAt,
        finishedAt: s.finishedAt,
        attempts: s.attempts,
        duplicates: s.duplicates,
        key: s.key,
        error: s.error,
        archived: true,
      }));
    // A live task also in the archive is counted once (as live).
    let overlap = 0;
    for (const r of live) if (isTerminal(r.state) && archive.mightHave(r.id) && archive.has(r.id)) overlap++;
    archivedTotal = Math.max(0, archivedTotal - overlap);
  }
  const merged: ListRow[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < offset + limit && (i < live.length || j < archived.length)) {
    if (j >= archived.length || (i < live.length && cmp(live[i]!, archived[j]!) <= 0)) merged.push(live[i++]!);
    else merged.push(archived[j++]!);
  }
  return { tasks: merged.slice(offset, offset + limit), total: live.length + archivedTotal, offset, limit, live: live.length, archived: archivedTotal };
}
