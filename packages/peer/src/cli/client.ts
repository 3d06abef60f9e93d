// Client commands of the CLI: they talk to one running peer through its HTTP API (same host and
// port as its websocket URL) and print JSON with --json, or readable text without it.

import { UsageError, type CommandSpec, type FlagValues } from './flags.js';
import { callApi, jsonFlag, out, peerFlag, tokenFlag } from './api-client.js';
import { taskDetailText } from './task-detail-text.js';

export { ApiError, apiBase, callApi } from './api-client.js';
export { SUBMIT, runSubmit, workflowTasks, taskLine } from './submit-command.js';

export const RETRY: CommandSpec = {
  name: 'retry',
  summary: 'Revives a dead task (or every dead letter with --all-dead): it runs again with a fresh count of attempts.',
  usage: 'agentmesh retry ID --peer WSURL [--json]\n       agentmesh retry --all-dead [--type T] --peer WSURL [--json]',
  flags: [
    peerFlag,
    { name: 'all-dead', type: 'bool', help: 'revive every dead task this peer knows (live and archived)' },
    { name: 'type', type: 'string', arg: 'T', help: 'with --all-dead: only tasks of this type' },
    tokenFlag,
    jsonFlag,
  ],
  positionals: ['id?'],
};

export const STATUS: CommandSpec = {
  name: 'status',
  summary: 'Shows the peers and task counts as one peer sees them.',
  usage: 'agentmesh status --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
};

export const GET: CommandSpec = {
  name: 'get',
  summary: 'Shows one task: payload, options, dependencies, result, every attempt, the timeline of its facts, duplicate runs, and why it waits.',
  usage: 'agentmesh get ID --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
  positionals: ['id'],
};

export const LIST: CommandSpec = {
  name: 'list',
  summary: 'Lists and searches tasks, live and archived, newest first.',
  usage: 'agentmesh list --peer WSURL [--state S[,S]] [--type T] [--peer P1] [--since 10m] [--search TEXT] [--limit N] [--offset N] [--json]',
  flags: [
    {
      name: 'peer',
      type: 'string',
      arg: 'WSURL|P',
      help: "a peer's websocket URL to ask (ws://...); any other value filters by the peer (name or id) that produced the result or ran the last attempt",
      env: 'AGENTMESH_PEER',
      repeat: true,
      required: true,
    },
    { name: 'state', type: 'string', arg: 'S[,S]', help: 'pending, claimed, running, done, dead, cancelled', repeat: true },
    { name: 'type', type: 'string', arg: 'T', help: 'agent type' },
    { name: 'ran-on', type: 'string', arg: 'P[,P]', help: 'same as --peer P: peers (names or ids) that produced the result or ran the last attempt', repeat: true },
    { name: 'since', type: 'string', arg: 'WHEN', help: 'submitted since: 30s, 10m, 2h, 1d ago, or an ISO time' },
    { name: 'search', type: 'string', arg: 'TEXT', help: 'text in the id, type, key, peer or last error' },
    { name: 'sort', type: 'string', arg: 'COL', help: 'created, finished, state, type, peer, attempts, id', default: 'created' },
    { name: 'asc', type: 'bool', help: 'oldest (smallest) first' },
    { name: 'limit', type: 'int', arg: 'N', help: 'tasks per page', default: 50, min: 1, max: 1000 },
    { name: 'offset', type: 'int', arg: 'N', help: 'skip the first N', default: 0, min: 0 },
    tokenFlag,
    jsonFlag,
  ],
};

export const CANCEL: CommandSpec = {
  name: 'cancel',
  summary: 'Cancels a task everywhere; a running run is aborted.',
  usage: 'agentmesh cancel ID --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag, { name: 'reason', type: 'string', arg: 'TEXT', help: 'why', default: 'cancelled' }],
  positionals: ['id'],
};

export const PARTITION: CommandSpec = {
  name: 'partition',
  summary: 'Makes a peer drop and refuse connections to the given peers (for partition tests).',
  usage: 'agentmesh partition --peer WSURL --block PEER[,PEER] [--json]',
  flags: [peerFlag, { name: 'block', type: 'string', arg: 'PEER[,PEER]', help: 'peers to cut off: names (P1) or peer ids', repeat: true, required: true }, tokenFlag, jsonFlag],
};

export const HEAL: CommandSpec = {
  name: 'heal',
  summary: 'Lifts every block of a peer.',
  usage: 'agentmesh heal --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
};

export const REMOVE_MEMBER: CommandSpec = {
  name: 'remove-member',
  summary: 'Removes a member from the mesh: its later entries are ignored and its connections refused, everywhere.',
  usage: 'agentmesh remove-member PEERID --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
  positionals: ['id'],
};

export async function runRemoveMember(v: FlagValues): Promise<number> {
  const id = String((v._ as string[] | undefined)?.[0] ?? '');
  if (!id) throw new UsageError('remove-member needs the peer id (or name) of the member to remove');
  const r = await callApi(v, 'POST', '/api/members/remove', { peer: id });
  out(v, r, `removed ${r.name ? `${r.name} (${r.removed})` : r.removed}: its entries written from now on are ignored and its connections refused by every peer (${r.kept} earlier entries kept)`);
  return 0;
}

interface StatusPeerJson {
  name: string;
  peerId: string;
  capacity: number;
  load: number;
  alive: boolean;
}

/** One word for a peer this peer does not hear from, everywhere (CLI and dashboard). */
export const AWAY = 'away';

export async function runStatus(v: FlagValues): Promise<number> {
  const s = await callApi(v, 'GET', '/api/status');
  const publicShape = {
    peers: s.peers,
    tasks: s.tasks,
    duplicateRuns: s.duplicateRuns,
    archived: s.archived,
    generation: s.generation,
    ...(s.self ? { self: s.self } : {}),
    ...(s.blocked ? { blocked: s.blocked, blockedNames: s.blockedNames ?? s.blocked } : {}),
    ...(s.agentTypes ? { agentTypes: s.agentTypes } : {}),
    ...(s.doc ? { doc: s.doc } : {}),
    ...(s.trust ? { trust: s.trust } : {}),
  };
  const t = s.tasks as Record<string, number>;
  const total = Object.values(t).reduce((a, b) => a + b, 0);
  const conc = s.self?.concurrency;
  const text = [
    `peers (as ${s.self?.name ?? '?'} sees them; load = runs and reservations now${conc ? `, of ${conc} at once` : ''}):`,
    ...(s.peers as StatusPeerJson[]).map((p) => `  ${p.name.padEnd(10)} ${(p.alive ? 'alive' : AWAY).padEnd(5)}  capacity ${p.capacity}/s  load ${p.load}  ${p.peerId}`),
    ...(s.blockedNames?.length ? [`blocking (partition): ${(s.blockedNames as string[]).join(', ')}`] : []),
    `tasks: ${total} (${Object.entries(t).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `duplicate runs: ${s.duplicateRuns}`,
    ...(s.archived ? [`archived (left the live document, counted above): done ${s.archived.done}, dead ${s.archived.dead}, cancelled ${s.archived.cancelled}`] : []),
    ...(s.generation ? [`document: generation ${s.generation.n}${s.doc ? `, ${s.doc.tasks} live tasks${s.doc.bytes ? `, ${Math.round(s.doc.bytes / 1024)} KiB` : ''}; archive ${Math.round((s.doc.archiveBytes ?? 0) / 1024)} KiB` : ''}`] : []),
    ...(s.agentTypes ? [`agent types: ${(s.agentTypes as string[]).join(', ')}`] : []),
    ...(s.trust?.signed ? [`signed entries refused: bad signature ${s.trust.badSignature}, wrong author ${s.trust.wrongAuthor}, removed author ${s.trust.removedAuthor}${s.trust.removed?.length ? `; removed members: ${(s.trust.removed as string[]).join(', ')}` : ''}`] : []),
  ].join('\n');
  out(v, publicShape, text);
  return 0;
}

export async function runGet(v: FlagValues): Promise<number> {
  const id = v._[0]!;
  const t = await callApi(v, 'GET', `/api/tasks/${encodeURIComponent(id)}`);
  
  out(v, t, taskDetailText(t));
  return 0;
}

/** ms since epoch from "30s", "10m", "2h", "1d" (ago) or an ISO time. */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)$/.exec(text.trim());
  if (m) {
    const unit = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'min' | 'h' | 'd'];
    return now - Number(m[1]) * unit;
  }
  const t = Date.parse(text);
  if (Number.isFinite(t)) return t;
  throw new UsageError(`--since must be like 30s, 10m, 2h, 1d or an ISO time, got ${JSON.stringify(text)}`);
}

interface ListRowJson {
  id: string;
  type: string;
  state: string;
  peer: string | null;
  createdAt: number | null;
  attempts: number;
  duplicates: number;
  key: string | null;
  error: string | null;
  archived: boolean;
}

export async function runList(v0: FlagValues): Promise<number> {
  // --peer is both the peer to ask (a websocket URL) and, for list, a filter (a peer name or id).
  const values = v0.peer as string[];
  const urls = values.filter((x) => /^wss?:\/\//.test(x));
  if (urls.length > 1) throw new UsageError('give one websocket URL in --peer (the peer to ask)');
  const url = urls[0] ?? process.env.AGENTMESH_PEER;
  if (!url) throw new UsageError('--peer WSURL is required (the peer to ask), or set AGENTMESH_PEER');
  const v: FlagValues = { ...v0, peer: url };
  const ranOn = [...values.filter((x) => !/^wss?:\/\//.test(x)), ...((v0['ran-on'] as string[] | undefined) ?? [])];
  const q = new URLSearchParams();
  if (v.state) q.set('state', (v.state as string[]).join(','));
  if (v.type) q.set('type', String(v.type));
  if (ranOn.length) q.set('peer', ranOn.join(','));
  if (v.since) q.set('since', String(parseSince(String(v.since))));
  if (v.search) q.set('q', String(v.search));
  q.set('sort', String(v.sort));
  q.set('order', v.asc ? 'asc' : 'desc');
  q.set('limit', String(v.limit));
  q.set('offset', String(v.offset));
  const r = await callApi(v, 'GET', `/api/list?${q}`);
  const rows = r.tasks as ListRowJson[];
  const time = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().slice(5, 19).replace('T', ' '));
  const lines = rows.map((t) => {
    const note = t.state === 'dead' || t.state === 'cancelled' ? (t.error ?? '') : t.duplicates ? `+${t.duplicates} duplicate run${t.duplicates > 1 ? 's' : ''}` : '';
    return `${t.id.padEnd(30)} ${t.type.padEnd(18)} ${t.state.padEnd(9)} ${(t.peer ?? '-').padEnd(8)} ${time(t.createdAt)}  ${String(t.attempts).padStart(2)}${t.archived ? ' A' : '  '} ${note.length > 60 ? `${note.slice(0, 57)}...` : note}`;
  });
  const head = `${'id'.padEnd(30)} ${'type'.padEnd(18)} ${'state'.padEnd(9)} ${'peer'.padEnd(8)} ${'submitted'.padEnd(14)}  at`;
  const from = rows.length ? r.offset + 1 : 0;
  const foot = `${from}-${r.offset + rows.length} of ${r.total} (${r.live} live, ${r.archived} archived: A)${r.offset + rows.length < r.total ? `; next page: --offset ${r.offset + rows.length}` : ''}`;
  out(v, r, rows.length ? [head, ...lines, foot].join('\n') : `no matching tasks (${r.total})`);
  return 0;
}

export async function runCancel(v: FlagValues): Promise<number> {
  const id = v._[0]!;
  const t = await callApi(v, 'POST', `/api/tasks/${encodeURIComponent(id)}/cancel`, { reason: v.reason });
  out(v, t, `${t.id} ${t.state}`);
  return 0;
}

export async function runRetry(v: FlagValues): Promise<number> {
  const id = v._[0];
  if (v['all-dead']) {
    if (id) throw new UsageError('give a task ID or --all-dead, not both');
    const r = await callApi(v, 'POST', '/api/retry-dead', v.type ? { type: v.type } : {});
    const failed = r.failed as { id: string; error: string }[];
    out(v, r, [`revived ${r.retried.length} dead ${r.retried.length === 1 ? 'task' : 'tasks'}${r.remaining ? ` (${r.remaining} more: run it again)` : ''}`, ...failed.map((f) => `  not ${f.id}: ${f.error}`)].join('\n'));
    return failed.length > 0 && r.retried.length === 0 ? 1 : 0;
  }
  if (!id) throw new UsageError('"retry" needs a task ID (or --all-dead)');
  if (v.type) throw new UsageError('--type goes with --all-dead');
  const t = await callApi(v, 'POST', `/api/tasks/${encodeURIComponent(id)}/retry`, {});
  out(v, t, `${t.id} ${t.state} (revived)`);
  return 0;
}

export async function runPartition(v: FlagValues): Promise<number> {
  const r = await callApi(v, 'POST', '/api/partition', { block: v.block });
  const names = (r.names as string[] | undefined) ?? (r.blocked as string[]);
  out(v, r, `blocked: ${names.map((n, i) => (n === r.blocked[i] ? n : `${n} (${r.blocked[i]})`)).join(', ')}`);
  return 0;
}

export async function runHeal(v: FlagValues): Promise<number> {
  const r = await callApi(v, 'POST', '/api/heal', {});
  const healed = (r.healedNames as string[] | undefined) ?? (r.healed as string[] | undefined) ?? [];
  out(v, r, healed.length ? `healed: unblocked ${healed.join(', ')}` : 'nothing to heal: this peer blocked no one');
  return 0;
}
