// `agentmesh submit`: tasks, a tasks file or a workflow (a DAG with local names) through one peer,
// which answers once it has them on disk; with --wait it follows them to the end and prints each
// task's final state with its result or its error. A type no known peer runs is refused (exit 2,
// with the known types) unless --allow-unknown-type says it is on purpose.

import { CommandSpec, FlagValues, UsageError } from './flags.js';
import { idForKey } from '../task-input.js';
import { callApi, jsonFlag, out, peerFlag, tokenFlag } from './api-client.js';

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
    { name: 'allow-unknown-type', type: 'bool', help: 'submit even when no known peer runs the type (for agents that join later); without it such a submit is refused (exit 2) with the known types' },
    tokenFlag,
    jsonFlag,
  ],
};

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

interface WaitedTask {
  id: string;
  state: string;
  result?: unknown;
  error?: string;
  peer?: string | null;
}

/** One line per task: its id (and workflow name), state, and the result or the error. */
export function taskLine(t: WaitedTask, name?: string): string {
  const who = name ? `${name} ${t.id}` : t.id;
  if (t.state === 'done') return `${who} done ${JSON.stringify(t.result ?? null)}`;
  if (t.state === 'dead' || t.state === 'cancelled') return `${who} ${t.state}: ${t.error ?? '(no error recorded)'}`;
  return `${who} ${t.state}`;
}

export async function runSubmit(v: FlagValues): Promise<number> {
  let body: Record<string, unknown>;
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
  const query = v['allow-unknown-type'] ? '' : '?refuseUnknownType=1';
  const { ids } = (await callApi(v, 'POST', `/api/tasks${query}`, body)) as { ids: string[] };
  const nameOf = new Map(Object.entries(names ?? {}).map(([n, id]) => [id, n]));
  if (!v.wait) {
    out(v, names ? { ids, names } : { ids }, names ? ids.map((id) => `${nameOf.get(id) ?? ''} ${id}`.trim()).join('\n') : ids.join('\n'));
    return 0;
  }
  const deadline = Date.now() + Number(v['wait-timeout']);
  // Progress redraws in place on a terminal; elsewhere (a log, a pipe) a line now and then.
  const tty = process.stderr.isTTY === true;
  let shown = -1;
  let shownAt = Date.now();
  const progress = (finished: number, final = false) => {
    if (v.json) return;
    if (tty) {
      if (finished !== shown || final) process.stderr.write(`\r${finished}/${ids.length} finished${final ? '\n' : ''}`);
    } else if (final || (finished !== shown && Date.now() - shownAt >= 10_000)) {
      process.stderr.write(`${finished}/${ids.length} finished\n`);
      shownAt = Date.now();
    }
    shown = finished;
  };
  let tasks: WaitedTask[] = [];
  for (;;) {
    tasks = [];
    for (let i = 0; i < ids.length; i += 500) {
      const part = (await callApi(v, 'GET', `/api/tasks?ids=${ids.slice(i, i + 500).map(encodeURIComponent).join(',')}`)) as { tasks: WaitedTask[] };
      tasks.push(...part.tasks);
    }
    const open = tasks.filter((t) => t.state !== 'done' && t.state !== 'dead' && t.state !== 'cancelled').length;
    if (open === 0) break;
    if (Date.now() > deadline) {
      progress(ids.length - open, true);
      out(v, { ids, tasks, timedOut: true }, `timed out with ${open} of ${ids.length} tasks unfinished (see why with: agentmesh get ID --peer ${String(v.peer)})\n${tasks.filter((t) => t.state !== 'done' && t.state !== 'dead' && t.state !== 'cancelled').slice(0, 10).map((t) => taskLine(t, nameOf.get(t.id))).join('\n')}`);
      return 3;
    }
    progress(ids.length - open);
    await new Promise((r) => setTimeout(r, 100));
  }
  progress(ids.length, true);
  out(v, names ? { ids, names, tasks } : { ids, tasks }, tasks.map((t) => taskLine(t, nameOf.get(t.id))).join('\n'));
  return tasks.every((t) => t.state === 'done') ? 0 : 1;
}
