// Client commands of the CLI: they talk to one running peer through its HTTP API (same host and
// port as its websocket URL) and print JSON with --json, or readable text without it.

import { CommandSpec, FlagValues, UsageError } from './flags.js';
import { idForKey } from '../task-input.js';

const peerFlag = { name: 'peer', type: 'string', arg: 'WSURL', help: "a peer's websocket URL, as printed in its ready line", env: 'AGENTMESH_PEER', required: true } as const;
const tokenFlag = { name: 'token', type: 'string', arg: 'TOKEN', help: "the peer's --ws-token, if it has one", env: 'AGENTMESH_TOKEN' } as const;
const jsonFlag = { name: 'json', type: 'bool', help: 'print JSON lines on stdout' } as const;

export const SUBMIT: CommandSpec = {
  name: 'submit',
  summary: 'Submits tasks through a peer; returns once that peer has them on disk.',
  usage: 'agentmesh submit --peer WSURL --type T [--payload JSON] [--count N] [--wait] [--json]',
  flags: [
    peerFlag,
    { name: 'type', type: 'string', arg: 'T', help: 'agent type that runs the task (echo, sleep, fail, traffic.forecast, ...)' },
    { name: 'payload', type: 'string', arg: 'JSON', help: 'task payload as JSON', default: 'null' },
    { name: 'count', type: 'int', arg: 'N', help: 'submit N copies', default: 1, min: 1, max: 100_000 },
    { name: 'priority', type: 'number', arg: 'N', help: 'higher runs first', default: 0 },
    { name: 'max-attempts', type: 'int', arg: 'N', help: 'failed runs before the task is dead', default: 3, min: 1, max: 1000 },
    { name: 'timeout', type: 'int', arg: 'MS', help: 'abort a run after MS milliseconds (0 = none)', default: 0, min: 0 },
    { name: 'delay', type: 'int', arg: 'MS', help: 'wait MS milliseconds before the task may run', default: 0, min: 0 },
    { name: 'depends-on', type: 'string', arg: 'ID[,ID]', help: 'run only after these tasks are done', repeat: true },
    { name: 'requires', type: 'string', arg: 'CAP[,CAP]', help: 'capabilities a peer must have', repeat: true },
    { name: 'key', type: 'string', arg: 'K', help: 'idempotency key: the same key names the same task on every peer' },
    { name: 'exclusive', type: 'bool', help: 'claim only with a quorum (a majority of known peers); a minority side never runs it' },
    { name: 'strategy', type: 'string', arg: 'S', help: 'random|least-load|max-capacity|capacity-weighted|multi-objective' },
    { name: 'tasks-file', type: 'string', arg: 'FILE', help: 'JSON file with a list of tasks ({type, payload, ...} each)' },
    { name: 'workflow', type: 'string', arg: 'FILE', help: 'JSON DAG: {"key"?, "tasks":[{"name","type","payload"?,"dependsOn"?:[names]}]}' },
    { name: 'wait', type: 'bool', help: 'wait until every task is done, dead or cancelled (exit 1 if any is not done)' },
    { name: 'wait-timeout', type: 'int', arg: 'MS', help: 'give up waiting after MS ms (exit 3)', default: 600_000, min: 1 },
    tokenFlag,
    jsonFlag,
  ],
};

export const RETRY: CommandSpec = {
  name: 'retry',
  summary: 'Revives a dead task: it runs again with a fresh count of attempts.',
  usage: 'agentmesh retry ID --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
  positionals: ['id'],
};

export const STATUS: CommandSpec = {
  name: 'status',
  summary: 'Shows the peers and task counts as one peer sees them.',
  usage: 'agentmesh status --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
};

export const GET: CommandSpec = {
  name: 'get',
  summary: 'Shows one task: state, result, attempts, errors.',
  usage: 'agentmesh get ID --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
  positionals: ['id'],
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
  usage: 'agentmesh partition --peer WSURL --block PEERID[,PEERID] [--json]',
  flags: [peerFlag, { name: 'block', type: 'string', arg: 'PEERID[,PEERID]', help: 'peer ids to cut off', repeat: true, required: true }, tokenFlag, jsonFlag],
};

export const HEAL: CommandSpec = {
  name: 'heal',
  summary: 'Lifts every block of a peer.',
  usage: 'agentmesh heal --peer WSURL [--json]',
  flags: [peerFlag, tokenFlag, jsonFlag],
};

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
  if (!res.ok) throw new ApiError(res.status, json?.error ?? `peer answered ${res.status}`);
  return json;
}

function out(v: FlagValues, json: unknown, text: string): void {
  process.stdout.write((v.json ? JSON.stringify(json) : text) + '\n');
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`--payload is not valid JSON: ${text.length > 80 ? text.slice(0, 80) + '...' : text}`);
  }
}

async function readTasksFile(path: string): Promise<unknown[]> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --tasks-file ${path}: ${(e as Error).message}`);
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new UsageError(`--tasks-file ${path} is not valid JSON`);
  }
  const list = Array.isArray(j) ? j : (j as { tasks?: unknown })?.tasks;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`--tasks-file ${path} must hold a non-empty list of tasks`);
  return list;
}

interface WorkflowTask {
  name: string;
  type: string;
  dependsOn?: string[];
  [k: string]: unknown;
}

/**
 * Turns a workflow file into task inputs: each named task gets an idempotency key
 * `<workflow key>/<name>`, so its id is the same on every peer and resubmitting the file is a
 * no-op; `dependsOn` names become those ids. Unknown names and cycles are refused.
 */
export function workflowTasks(doc: unknown, fallbackKey: string): { tasks: Record<string, unknown>[]; names: Record<string, string> } {
  const d = doc as { key?: unknown; tasks?: unknown };
  if (typeof d !== 'object' || d === null || !Array.isArray(d.tasks) || d.tasks.length === 0) throw new UsageError('a workflow must be {"tasks":[...]} with at least one task');
  const key = typeof d.key === 'string' && d.key ? d.key : fallbackKey;
  const list = d.tasks as WorkflowTask[];
  const names: Record<string, string> = {};
  for (const [i, t] of list.entries()) {
    if (typeof t !== 'object' || t === null || typeof t.name !== 'string' || !t.name) throw new UsageError(`workflow task #${i + 1} has no "name"`);
    if (typeof t.type !== 'string' || !t.type) throw new UsageError(`workflow task "${t.name}" has no "type"`);
    if (names[t.name]) throw new UsageError(`workflow task name "${t.name}" is used twice`);
    names[t.name] = idForKey(`${key}/${t.name}`);
  }
  const deps = new Map(list.map((t) => [t.name, t.dependsOn ?? []]));
  for (const t of list) {
    if (!Array.isArray(t.dependsOn ?? [])) throw new UsageError(`workflow task "${t.name}": dependsOn must be a list of names`);
    for (const dep of t.dependsOn ?? []) if (!names[dep]) throw new UsageError(`workflow task "${t.name}" depends on unknown task "${dep}"`);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') throw new UsageError(`workflow has a cycle: ${[...path, n].join(' -> ')}`);
    state.set(n, 'visiting');
    for (const dep of deps.get(n) ?? []) visit(dep, [...path, n]);
    state.set(n, 'done');
  };
  for (const t of list) visit(t.name, []);
  const tasks = list.map(({ name, dependsOn, ...rest }) => ({ ...rest, key: `${key}/${name}`, dependsOn: (dependsOn ?? []).map((dep) => names[dep]!) }));
  return { tasks, names };
}

export async function runSubmit(v: FlagValues): Promise<number> {
  let body: unknown;
  let names: Record<string, string> | undefined;
  if (v.workflow) {
    const file = String(v.workflow);
    const { readFile } = await import('node:fs/promises');
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read --workflow ${file}: ${(e as Error).message}`);
    }
    const { randomUUID } = await import('node:crypto');
    const wf = workflowTasks(doc, `wf-${randomUUID()}`);
    names = wf.names;
    body = { tasks: wf.tasks };
  } else if (v['tasks-file']) {
    body = { tasks: await readTasksFile(String(v['tasks-file'])) };
  } else {
    if (!v.type) throw new UsageError('--type is required (or --tasks-file)');
    const task: Record<string, unknown> = {
      type: v.type,
      payload: parsePayload(String(v.payload)),
      priority: v.priority,
      maxAttempts: v['max-attempts'],
      timeoutMs: v.timeout,
      count: v.count,
    };
    if (Number(v.delay) > 0) task.delayMs = v.delay;
    if (v['depends-on']) task.dependsOn = v['depends-on'];
    if (v.requires) task.requires = v.requires;
    if (v.key) task.key = v.key;
    if (v.strategy) task.strategy = v.strategy;
    if (v.exclusive) task.exclusive = true;
    body = task;
  }
  const { ids } = (await callApi(v, 'POST', '/api/tasks', body)) as { ids: string[] };
  if (!v.wait) {
    out(v, names ? { ids, names } : { ids }, ids.join('\n'));
    return 0;
  }
  const deadline = Date.now() + Number(v['wait-timeout']);
  let tasks: { id: string; state: string }[] = [];
  for (;;) {
    tasks = [];
    for (let i = 0; i < ids.length; i += 500) {
      const part = (await callApi(v, 'GET', `/api/tasks?ids=${ids.slice(i, i + 500).map(encodeURIComponent).join(',')}`)) as { tasks: { id: string; state: string }[] };
      tasks.push(...part.tasks);
    }
    const open = tasks.filter((t) => t.state !== 'done' && t.state !== 'dead' && t.state !== 'cancelled').length;
    if (open === 0) break;
    if (Date.now() > deadline) {
      out(v, { ids, tasks, timedOut: true }, `timed out with ${open} of ${ids.length} tasks unfinished`);
      return 3;
    }
    if (!v.json) process.stderr.write(`\r${ids.length - open}/${ids.length} finished`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!v.json) process.stderr.write('\n');
  out(v, names ? { ids, names, tasks } : { ids, tasks }, tasks.map((t) => `${t.id} ${t.state} ${JSON.stringify((t as { result?: unknown }).result ?? null)}`).join('\n'));
  return tasks.every((t) => t.state === 'done') ? 0 : 1;
}

export async function runStatus(v: FlagValues): Promise<number> {
  const s = await callApi(v, 'GET', '/api/status');
  const publicShape = { peers: s.peers, tasks: s.tasks, duplicateRuns: s.duplicateRuns, archived: s.archived, generation: s.generation };
  const t = s.tasks as Record<string, number>;
  const text = [
    `peers (as ${s.self?.name ?? '?'} sees them):`,
    ...(s.peers as { name: string; peerId: string; capacity: number; load: number; alive: boolean }[]).map(
      (p) => `  ${p.name.padEnd(10)} ${p.alive ? 'alive' : 'gone '}  capacity ${p.capacity}/s  load ${p.load}  ${p.peerId}`,
    ),
    `tasks: ${Object.entries(t).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `duplicate runs: ${s.duplicateRuns}`,
    ...(s.archived ? [`archived (left the live document, counted above): done ${s.archived.done}, dead ${s.archived.dead}, cancelled ${s.archived.cancelled}`] : []),
    ...(s.generation ? [`document generation: ${s.generation.n}`] : []),
  ].join('\n');
  out(v, publicShape, text);
  return 0;
}

export async function runGet(v: FlagValues): Promise<number> {
  const id = v._[0]!;
  const t = await callApi(v, 'GET', `/api/tasks/${encodeURIComponent(id)}`);
  out(v, t, `${t.id} ${t.type} ${t.state} attempts ${t.attempts} peer ${t.peer ?? '-'}\nresult ${JSON.stringify(t.result)}${t.errors?.length ? `\nerrors: ${t.errors.join(' | ')}` : ''}`);
  return 0;
}

export async function runCancel(v: FlagValues): Promise<number> {
  const id = v._[0]!;
  const t = await callApi(v, 'POST', `/api/tasks/${encodeURIComponent(id)}/cancel`, { reason: v.reason });
  out(v, t, `${t.id} ${t.state}`);
  return 0;
}

export async function runRetry(v: FlagValues): Promise<number> {
  const id = v._[0]!;
  const t = await callApi(v, 'POST', `/api/tasks/${encodeURIComponent(id)}/retry`, {});
  out(v, t, `${t.id} ${t.state} (revived)`);
  return 0;
}

export async function runPartition(v: FlagValues): Promise<number> {
  const r = await callApi(v, 'POST', '/api/partition', { block: v.block });
  out(v, r, `blocked: ${(r.blocked as string[]).join(', ')}`);
  return 0;
}

export async function runHeal(v: FlagValues): Promise<number> {
  const r = await callApi(v, 'POST', '/api/heal', {});
  out(v, r, 'healed: no blocks');
  return 0;
}
