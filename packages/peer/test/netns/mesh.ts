// Real `agentmesh peer` processes in a Lab's namespaces, and what the tests ask of them: their HTTP
// API over the management link, the CLI (status/get --json) for spot checks, and their logs to
// print when a scenario fails.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Lab } from './lab.js';

const run = promisify(execFile);
export const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const TOKEN = 'netns-test-token';
export const LIBP2P_PORT = 4001;
export const WS_PORT = 8080;

export interface Ready {
  name: string;
  peerId: string;
  multiaddrs: string[];
  wsUrl: string;
}

export interface TaskRow {
  id: string;
  type: string;
  state: string;
  result: unknown;
  attempts: number;
  peer: string | null;
  duplicates?: number;
}

export interface StatusJson {
  peers: { name: string; peerId: string; alive: boolean; load: number }[];
  tasks: Record<string, number>;
  duplicateRuns: number;
  blocked: string[];
}

export class NetPeer {
  private exited: Promise<number | null>;

  constructor(
    /** Its stderr (log lines) and its stdout lines after the ready line, time-stamped. */
    readonly log: string[],
    readonly lab: Lab,
    readonly index: number,
    readonly name: string,
    readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  get node() {
    return this.lab.nodes[this.index]!;
  }

  get id(): string {
    return this.ready.peerId;
  }

  /** Where the others reach this peer over libp2p (its current data address). */
  get multiaddr(): string {
    return `/ip4/${this.node.addr}/tcp/${LIBP2P_PORT}/p2p/${this.id}`;
  }

  get http(): string {
    return `http://${this.node.mgmt}:${WS_PORT}`;
  }

  async api<T = unknown>(path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
    const res = await fetch(this.http + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${this.name} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }

  status(): Promise<StatusJson> {
    return this.api<StatusJson>('/api/status');
  }

  /** Submits tasks; resolves with their ids once this peer has them on disk (acknowledged). */
  async submit(task: Record<string, unknown>): Promise<string[]> {
    return (await this.api<{ ids: string[] }>('/api/tasks', task, 30_000)).ids;
  }

  /** Every task this peer knows, or the given ones (state 'unknown' for one it does not know). */
  async tasks(ids?: string[]): Promise<TaskRow[]> {
    if (!ids) return (await this.api<{ tasks: TaskRow[] }>('/api/tasks')).tasks;
    const out: TaskRow[] = [];
    for (let i = 0; i < ids.length; i += 200) out.push(...(await this.api<{ tasks: TaskRow[] }>(`/api/tasks?ids=${ids.slice(i, i + 200).join(',')}`)).tasks);
    return out;
  }

  /** One task in full (with its duplicate runs), as `agentmesh get` shows it. */
  task(id: string): Promise<TaskRow> {
    return this.api<TaskRow>(`/api/tasks/${encodeURIComponent(id)}`);
  }

  /** Runs an `agentmesh` client command against this peer from the test process, --json. */
  async cli(...args: string[]): Promise<any> {
    const { stdout } = await run(process.execPath, [MAIN, ...args, '--peer', this.ready.wsUrl, '--token', TOKEN, '--json'], { timeout: 30_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!);
  }

  /** Peers this one sees alive (itself included). */
  async aliveNames(): Promise<string[]> {
    return (await this.status()).peers.filter((p) => p.alive).map((p) => p.name).sort();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.running) {
      const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      this.child.kill('SIGTERM');
      const code = await this.exited;
      clearTimeout(t);
      return code;
    }
    return this.exited;
  }
}

export interface StartOptions {
  name: string;
  dataDir: string;
  bootstrap?: string[];
  /** libp2p listen address (default: the node's data address, port 4001). */
  listen?: string;
  extra?: string[];
  timeoutMs?: number;
}

/** Starts `agentmesh peer` inside node i's namespace and resolves once it printed its ready line. */
export function startPeer(lab: Lab, i: number, o: StartOptions): Promise<NetPeer> {
  const n = lab.nodes[i]!;
  mkdirSync(o.dataDir, { recursive: true });
  const args = [
    'netns', 'exec', n.ns, process.execPath, MAIN, 'peer',
    '--name', o.name, '--data-dir', o.dataDir,
    '--listen', o.listen ?? `/ip4/${n.addr}/tcp/${LIBP2P_PORT}`,
    '--ws-host', n.mgmt, '--ws-port', String(WS_PORT), '--ws-token', TOKEN,
    '--agents', 'sleep,echo', '--capacity', '50', '--log-level', 'debug', '--json',
    ...(o.bootstrap ?? []).flatMap((b) => ['--bootstrap', b]),
    ...(o.extra ?? []),
  ];
  const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const keep = (l: string) => {
    log.push(`${new Date().toISOString().slice(11, 23)} ${l}`);
    if (log.length > 4000) log.splice(0, 1000);
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`peer ${o.name} was not ready within ${o.timeoutMs ?? 30_000} ms: ${log.slice(-5).join(' | ')}`));
    }, o.timeoutMs ?? 30_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (!done) {
        try {
          const j = JSON.parse(l) as Ready & { event: string };
          if (j.event === 'ready') {
            done = true;
            clearTimeout(timer);
            resolve(new NetPeer(log, lab, i, o.name, child, j));
            return;
          }
        } catch {
          /* not JSON */
        }
      }
      keep(l);
    });
    child.once('exit', (code, signal) => {
      keep(`-- exited ${signal ?? code}`);
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`peer ${o.name} exited (${signal ?? code}) before it was ready: ${log.slice(-8).join(' | ')}`));
    });
  });
}

/** Writes every peer's log under dir (test-output) and returns a short tail of each, for a failure. */
export function dumpLogs(peers: NetPeer[], dir: string, label: string, tail = 15): string {
  mkdirSync(dir, { recursive: true });
  const parts: string[] = [];
  for (const p of peers) {
    const file = join(dir, `${label}-${p.name}.log`);
    writeFileSync(file, p.log.join('\n') + '\n');
    parts.push(`--- ${p.name} (${file}) ---\n${p.log.slice(-tail).join('\n')}`);
  }
  return parts.join('\n');
}

/**
 * Starts one peer per lab node: the first alone, the others bootstrapping from it; `listen`
 * overrides a node's listen address. Resolves once every peer sees every peer alive.
 */
export async function startMesh(lab: Lab, dir: string, opts: { names?: string[]; listen?: Record<number, string>; extra?: string[] } = {}): Promise<NetPeer[]> {
  const names = opts.names ?? lab.nodes.map((_, i) => String.fromCharCode(65 + i));
  const first = await startPeer(lab, 0, { name: names[0]!, dataDir: join(dir, names[0]!), ...(opts.listen?.[0] ? { listen: opts.listen[0] } : {}), ...(opts.extra ? { extra: opts.extra } : {}) });
  const rest = await Promise.all(
    lab.nodes.slice(1).map((_, k) => {
      const i = k + 1;
      return startPeer(lab, i, { name: names[i]!, dataDir: join(dir, names[i]!), bootstrap: [first.multiaddr], ...(opts.listen?.[i] ? { listen: opts.listen[i] } : {}), ...(opts.extra ? { extra: opts.extra } : {}) });
    }),
  );
  return [first, ...rest];
}
