// Why: starts N real `agentmesh peer` processes on loopback and turns their stdout event lines
// into a shared record (who ran which task, when it started and finished), plus small helpers
// for the peer's HTTP API (submit, status, partition, heal).
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { PEER_NODE_FLAGS, log, removeTempDir, spawnTracked, stopChild, trackTempDir, until } from './procs.js';

const PEER_MAIN = fileURLToPath(new URL('../node_modules/@agentmesh/peer/dist/cli/main.js', import.meta.url));

export interface Ready {
  event: 'ready';
  name: string;
  peerId: string;
  multiaddrs: string[];
  wsUrl: string;
}

export interface TaskInput {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface PeerStatus {
  peers: { name: string; peerId: string; alive: boolean; load: number }[];
  tasks: Record<string, number>;
  duplicateRuns: number;
  sync: { sentBytes: number; receivedBytes: number; sentMessages: number; receivedMessages: number; repairs: number };
  self: { counters?: { expiriesWritten?: number } };
}

export interface MeshPeer {
  name: string;
  child: ChildProcess;
  ready: Ready;
  api: string;
  warnings: string[];
}

export interface PeerOpts {
  capacities: number[];
  concurrency: number;
  agents: string[];
  /** Extra bootstrap: peer i also dials peer bootstrapFrom(i) (besides peer 0). */
  extraBootstrap?: (i: number) => number | undefined;
  /** Extra `agentmesh peer` flags for every peer. */
  peerArgs?: string[];
  /** The peers' --log-level (default warn). */
  logLevel?: string;
  /** Also write each peer's stderr to `<mesh dir>/<name>.stderr.log` (all of it, not the last 200 lines). */
  stderrFiles?: boolean;
}

type Waiter = (t: number, peer: string) => void;

let peerNodeArgs: string[] = [];
/** Extra node flags for every peer process (e.g. --cpu-prof), from --peer-node-args. */
export function setPeerNodeArgs(args: string[]): void {
  peerNodeArgs = args;
}

export class Mesh {
  readonly peers: MeshPeer[] = [];
  /** task id -> first running event (peer's wall clock t, peer name) */
  readonly started = new Map<string, { t: number; peer: string; type?: string }>();
  /** task id -> first done event */
  readonly done = new Map<string, { t: number; peer: string }>();
  failed = 0;
  aborted = 0;
  private stopping = false;
  submitRetries = 0;
  duplicateDone = 0;
  private readonly startWaiters = new Map<string, Waiter>();
  private doneListeners: (() => void)[] = [];
  private constructor(readonly dir: string) {}

  static async start(tag: string, opts: PeerOpts): Promise<Mesh> {
    const dir = trackTempDir(mkdtempSync(join(tmpdir(), `am-bench-${tag}-`)));
    const mesh = new Mesh(dir);
    const t0 = Date.now();
    for (let i = 0; i < opts.capacities.length; i++) {
      const boot: string[] = [];
      if (i > 0) boot.push('--bootstrap', mesh.peers[0]!.ready.multiaddrs[0]!);
      const extra = opts.extraBootstrap?.(i);
      if (extra !== undefined && extra !== 0 && extra < i) boot.push('--bootstrap', mesh.peers[extra]!.ready.multiaddrs[0]!);
      await mesh.spawn(`P${i + 1}`, opts.stderrFiles === true, [
        '--capacity', String(opts.capacities[i]), '--concurrency', String(opts.concurrency),
        '--agents', opts.agents.join(','), '--log-level', opts.logLevel ?? 'warn', ...boot, ...(opts.peerArgs ?? []),
      ]);
    }
    await mesh.waitFullMesh(Math.max(30_000, opts.capacities.length * 4000));
    log(`${tag}: ${mesh.peers.length} peers up and meshed in ${Date.now() - t0} ms`);
    return mesh;
  }

  private spawn(name: string, stderrFile: boolean, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawnTracked(process.execPath, [...PEER_NODE_FLAGS, ...peerNodeArgs, PEER_MAIN, 'peer', '--name', name, '--data-dir', join(this.dir, name), '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const warnings: string[] = [];
      let ready = false;
      const timer = setTimeout(() => {
        if (!ready) {
          child.kill('SIGKILL');
          reject(new Error(`peer ${name} not ready in 30 s: ${warnings.slice(-3).join(' | ')}`));
        }
      }, 30_000);
      const file = stderrFile ? createWriteStream(join(this.dir, `${name}.stderr.log`)) : undefined;
      createInterface({ input: child.stderr! }).on('line', (l) => {
        file?.write(`${l}\n`);
        warnings.push(l);
        if (warnings.length > 200) warnings.shift();
      });
      createInterface({ input: child.stdout! }).on('line', (l) => {
        let j: Record<string, unknown>;
        try {
          j = JSON.parse(l) as Record<string, unknown>;
        } catch {
          return;
        }
        if (j.event === 'ready' && !ready) {
          ready = true;
          clearTimeout(timer);
          const r = j as unknown as Ready;
          const port = new URL(r.wsUrl).port;
          this.peers.push({ name, child, ready: r, api: `http://127.0.0.1:${port}`, warnings });
          resolve();
          return;
        }
        if (j.event === 'task') this.onTask(j as { id: string; state: string; t: number; peer: string; type?: string });
      });
      child.once('exit', (code, sig) => {
        if (ready && !this.stopping) log(`peer ${name} EXITED unexpectedly (${sig ?? code}); last stderr: ${warnings.slice(-5).join(' | ')}`);
        if (!ready) {
          clearTimeout(timer);
          reject(new Error(`peer ${name} exited (${sig ?? code}) before ready: ${warnings.slice(-3).join(' | ')}`));
        }
      });
    });
  }

  private onTask(e: { id: string; state: string; t: number; peer: string; type?: string }): void {
    if (e.state === 'running') {
      if (!this.started.has(e.id)) {
        this.started.set(e.id, { t: e.t, peer: e.peer, ...(e.type ? { type: e.type } : {}) });
        const w = this.startWaiters.get(e.id);
        if (w) {
          this.startWaiters.delete(e.id);
          w(e.t, e.peer);
        }
      }
    } else if (e.state === 'done') {
      if (this.done.has(e.id)) this.duplicateDone++;
      else {
        this.done.set(e.id, { t: e.t, peer: e.peer });
        for (const l of this.doneListeners) l();
      }
    } else if (e.state === 'failed') this.failed++;
    else if (e.state === 'aborted') this.aborted++;
  }

  /** Resolves with the running event's t of a task (already seen or future). */
  waitStart(id: string, ms: number): Promise<{ t: number; peer: string }> {
    const s = this.started.get(id);
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.startWaiters.delete(id);
        reject(new Error(`task ${id} did not start within ${ms} ms`));
      }, ms);
      this.startWaiters.set(id, (t, peer) => {
        clearTimeout(timer);
        resolve({ t, peer });
      });
    });
  }

  /** Resolves when `ids` are all done (by event lines), or rejects at the deadline. */
  waitDone(ids: string[], ms: number): Promise<void> {
    const left = new Set(ids.filter((id) => !this.done.has(id)));
    if (left.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const id of left) if (this.done.has(id)) left.delete(id);
        if (left.size === 0) finish();
      };
      const finish = (err?: Error) => {
        clearTimeout(timer);
        clearInterval(iv);
        this.doneListeners = this.doneListeners.filter((l) => l !== onDone);
        if (err) reject(err);
        else resolve();
      };
      let pending = false;
      const onDone = () => {
        if (!pending) {
          pending = true;
          setImmediate(() => {
            pending = false;
            check();
          });
        }
      };
      const iv = setInterval(check, 500);
      const timer = setTimeout(() => finish(new Error(`${left.size} of ${ids.length} tasks not done after ${ms} ms`)), ms);
      this.doneListeners.push(onDone);
    });
  }

  /** fetch with the cause in the message (undici says only "fetch failed") and the peer's state. */
  private async fetch(p: MeshPeer, path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${p.api}${path}`, init);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const alive = p.child.exitCode === null && p.child.signalCode === null;
      throw new Error(`${init.method ?? 'GET'} ${path} on ${p.name}: ${(e as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}; peer ${alive ? 'alive' : `exited ${p.child.exitCode ?? p.child.signalCode}`}; last stderr: ${p.warnings.slice(-3).join(' | ')}`);
    }
  }

  /** The peer that `submit(peer, ...)` sends to: the index taken round the peers (any integer). */
  peerFor(peer: number): MeshPeer {
    const n = this.peers.length;
    return this.peers[((peer % n) + n) % n]!;
  }

  async submit(peer: number, tasks: TaskInput[]): Promise<string[]> {
    const p = this.peerFor(peer);
    const r = await this.fetch(p, '/api/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks }),
      signal: AbortSignal.timeout(60_000),
    });
    const j = (await r.json()) as { ids?: string[]; error?: string };
    if (!r.ok || !j.ids) throw new Error(`submit to ${p.name} failed (${r.status}): ${j.error ?? JSON.stringify(j)}`);
    return j.ids;
  }

  async status(peer: number, timeoutMs = 30_000): Promise<PeerStatus> {
    const p = this.peers[peer]!;
    const r = await this.fetch(p, '/api/status', { signal: AbortSignal.timeout(timeoutMs) });
    if (!r.ok) throw new Error(`status of ${p.name}: HTTP ${r.status}`);
    return (await r.json()) as PeerStatus;
  }

  statuses(timeoutMs?: number): Promise<PeerStatus[]> {
    return Promise.all(this.peers.map((_, i) => this.status(i, timeoutMs)));
  }

  async post(peer: number, path: string, body: unknown, timeoutMs = 30_000): Promise<unknown> {
    const p = this.peers[peer]!;
    const r = await this.fetch(p, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    const j = await r.json();
    if (!r.ok) throw new Error(`${path} on ${p.name}: HTTP ${r.status} ${JSON.stringify(j)}`);
    return j;
  }

  async sentBytes(timeoutMs?: number): Promise<number> {
    return (await this.statuses(timeoutMs)).reduce((a, s) => a + s.sync.sentBytes, 0);
  }

  /** Waits until every peer sees `expected` peers alive (or all peers when omitted). */
  async waitFullMesh(ms: number, expected?: (i: number) => number): Promise<void> {
    await until(
      'every peer to see the others alive',
      async () => {
        const ss = await this.statuses();
        return ss.every((s, i) => s.peers.filter((p) => p.alive).length === (expected ? expected(i) : this.peers.length));
      },
      ms,
      200,
    );
  }

  /** Stops every peer and removes the mesh's files (again: nothing to do). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // A profiled peer writes its profile on a clean exit only: give it time to finish its archive
    // writes (after a long load, more than 5 s) before SIGKILL takes the profile with it.
    const graceMs = peerNodeArgs.some((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof')) ? 60_000 : 5000;
    await Promise.all(this.peers.map((p) => stopChild(p.child, graceMs)));
    removeTempDir(this.dir);
  }

  /** Stderr lines at warn/error level, for the report. */
  warnings(): string[] {
    return this.peers.flatMap((p) => p.warnings.map((w) => `[${p.name}] ${w}`));
  }
}

/** Submits `count` tasks made by `make` in batches spread round-robin over the peers (one request in flight per peer). */
export async function submitSpread(mesh: Mesh, count: number, batch: number, make: (i: number) => TaskInput, to?: number[]): Promise<string[]> {
  const ids: string[] = [];
  const run = `b${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  let next = 0;
  await Promise.all(
    (to ?? mesh.peers.map((_, i) => i)).map(async (pi) => {
      for (;;) {
        const from = next;
        if (from >= count) return;
        next = Math.min(count, from + batch);
        const tasks: TaskInput[] = [];
        for (let i = from; i < next; i++) tasks.push({ ...make(i), id: `${run}-${i}` });
        try {
          ids.push(...(await mesh.submit(pi, tasks)));
        } catch (e) {
          // A network error (not an HTTP answer) may hide an accepted batch: resend it once with the
          // same explicit ids (a task id is written once, so nothing is doubled) and say so.
          if ((e as Error).message.includes('HTTP') || (e as Error).message.startsWith('submit to')) throw e;
          mesh.submitRetries++;
          log(`submit retry after: ${(e as Error).message}`);
          ids.push(...(await mesh.submit(pi, tasks)));
        }
      }
    }),
  );
  return ids;
}
