// The demo's local mesh: N real `agentmesh peer` processes (started with spawnPeer), each with its
// own data dir, and the controls the dashboard needs: kill -9 and restart on the same data dir (so
// the same peer id and the same ports), partition into groups and heal (through each peer's own
// /api/partition and /api/heal, so both ends of every cut block), and a status poll of every peer.

import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { boardDigest } from '@agentmesh/peer';
import { isRunning, spawnPeer, stopChild, type ReadyLine } from '@agentmesh/peer/node';

export interface PeerSpec {
  name: string;
  capacity: number;
}

export interface ManagedPeer {
  name: string;
  capacity: number;
  dataDir: string;
  peerId: string;
  wsUrl: string;
  /** http://host:port of the peer's API (same port as its websocket). */
  httpUrl: string;
  multiaddr: string;
  /** 'running', 'killed' (by the user), 'exited' (on its own), 'starting'. */
  state: 'running' | 'killed' | 'exited' | 'starting';
  pid: number | null;
  restarts: number;
  child: ChildProcess | null;
}

/** What GET /demo/peers returns for one peer. */
export interface PeerInfoJson {
  name: string;
  peerId: string;
  capacity: number;
  wsUrl: string;
  httpUrl: string;
  state: ManagedPeer['state'];
  pid: number | null;
  restarts: number;
  /** Names of the peers this one is told to block (the partition as configured). */
  blocked: string[];
}

export type Log = (msg: string) => void;

const portOf = (url: string): number => Number(new URL(url.replace(/^ws/, 'http')).port);
const tcpPortOf = (ma: string): number | undefined => {
  const m = /\/tcp\/(\d+)/.exec(ma);
  return m ? Number(m[1]) : undefined;
};

async function postJson(url: string, body: unknown, timeoutMs = 5000): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let j: unknown = null;
  try {
    j = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (!res.ok) throw new Error((j as { error?: string } | null)?.error ?? `HTTP ${res.status} ${text.slice(0, 200)}`);
  return j;
}

export class LocalMesh {
  readonly peers: ManagedPeer[] = [];
  /** Partition groups by peer name, or null when healed. */
  private groups: string[][] | null = null;
  private stopping = false;

  constructor(
    private readonly baseDir: string,
    private readonly specs: PeerSpec[],
    private readonly log: Log,
    private readonly logLevel = 'warn',
    /** More `agentmesh peer` flags for every peer (e.g. --max-finished 500). */
    private readonly extraArgs: string[] = [],
  ) {}

  /** Each peer's latest /api/status that answered, and when (shown while it is away). */
  private readonly lastKnown = new Map<string, { at: number; status: Record<string, unknown> }>();

  lastKnownStatus(): Record<string, { at: number; status: Record<string, unknown> }> {
    return Object.fromEntries(this.lastKnown);
  }

  /** Starts the first peer, then the rest in parallel bootstrapping to it. */
  async start(): Promise<void> {
    const [first, ...rest] = this.specs;
    if (!first) throw new Error('no peers to start');
    await this.launch(first, []);
    const boot = [this.peers[0]!.multiaddr];
    await Promise.all(rest.map((s) => this.launch(s, boot)));
    const order = this.specs.map((s) => s.name);
    this.peers.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  }

  private peerArgs(s: PeerSpec, dataDir: string, bootstrap: string[], pin?: { ws: number; tcp: number | undefined }): string[] {
    const args = ['--name', s.name, '--data-dir', dataDir, '--capacity', String(s.capacity), '--log-level', this.logLevel, ...this.extraArgs];
    for (const b of bootstrap) args.push('--bootstrap', b);
    if (pin) {
      args.push('--ws-port', String(pin.ws));
      if (pin.tcp) args.push('--listen', `/ip4/127.0.0.1/tcp/${pin.tcp}`);
    }
    return args;
  }

  private async launch(s: PeerSpec, bootstrap: string[], existing?: ManagedPeer): Promise<ManagedPeer> {
    const dataDir = existing?.dataDir ?? join(this.baseDir, s.name);
    const pin = existing ? { ws: portOf(existing.wsUrl), tcp: tcpPortOf(existing.multiaddr) } : undefined;
    const opts = { onStderr: (l: string) => this.log(`[${s.name}] ${l}`), timeoutMs: 30_000 };
    let started: { child: ChildProcess; ready: ReadyLine };
    try {
      started = await spawnPeer(this.peerArgs(s, dataDir, bootstrap, pin), opts);
    } catch (e) {
      if (!pin) throw e;
      // Its old ports were taken meanwhile: any free ones will do (the dashboard reads the new URL).
      this.log(`[${s.name}] restart on its old ports failed (${(e as Error).message}); trying free ports`);
      started = await spawnPeer(this.peerArgs(s, dataDir, bootstrap), opts);
    }
    const { child, ready } = started;
    const p: ManagedPeer = existing ?? {
      name: s.name,
      capacity: s.capacity,
      dataDir,
      peerId: ready.peerId,
      wsUrl: ready.wsUrl,
      httpUrl: '',
      multiaddr: '',
      state: 'starting',
      pid: null,
      restarts: 0,
      child: null,
    };
    p.peerId = ready.peerId;
    p.wsUrl = ready.wsUrl;
    p.httpUrl = ready.wsUrl.replace(/^ws/, 'http').replace(/\/[^/]*$/, '');
    p.multiaddr = ready.multiaddrs[0] ?? '';
    p.child = child;
    p.pid = child.pid ?? null;
    p.state = 'running';
    child.once('exit', (code, sig) => {
      if (p.child !== child) return;
      p.child = null;
      p.pid = null;
      if (p.state === 'running') {
        p.state = 'exited';
        if (!this.stopping) this.log(`[${p.name}] exited on its own (${sig ?? code})`);
      }
    });
    if (!existing) this.peers.push(p);
    return p;
  }

  get(name: string): ManagedPeer | undefined {
    return this.peers.find((p) => p.name === name);
  }

  live(): ManagedPeer[] {
    return this.peers.filter((p) => p.state === 'running');
  }

  info(): PeerInfoJson[] {
    return this.peers.map((p) => ({
      name: p.name,
      peerId: p.peerId,
      capacity: p.capacity,
      wsUrl: p.wsUrl,
      httpUrl: p.httpUrl,
      state: p.state,
      pid: p.pid,
      restarts: p.restarts,
      blocked: this.blockedNames(p.name),
    }));
  }

  get partition(): string[][] | null {
    return this.groups;
  }

  private blockedNames(name: string): string[] {
    if (!this.groups) return [];
    const mine = this.groups.find((g) => g.includes(name)) ?? [name];
    return this.peers.map((p) => p.name).filter((n) => !mine.includes(n));
  }

  /** kill -9: the peer gets no chance to flush or say goodbye. */
  async kill(name: string): Promise<void> {
    const p = this.get(name);
    if (!p) throw new Error(`no peer named ${name}`);
    if (p.state !== 'running' || !p.child) throw new Error(`${name} is not running`);
    const child = p.child;
    p.state = 'killed';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    this.log(`[${name}] killed (SIGKILL)`);
  }

  /** Restarts a killed or exited peer on its data dir: same peer id, same ports when free. */
  async restart(name: string): Promise<void> {
    const p = this.get(name);
    if (!p) throw new Error(`no peer named ${name}`);
    if (p.state === 'running' || p.state === 'starting') throw new Error(`${name} is already running`);
    const spec = this.specs.find((s) => s.name === name)!;
    p.state = 'starting';
    const bootstrap = this.live().map((q) => q.multiaddr).filter(Boolean);
    try {
      await this.launch(spec, bootstrap, p);
    } catch (e) {
      p.state = 'exited';
      throw e;
    }
    p.restarts++;
    this.log(`[${name}] restarted (pid ${p.pid})`);
    if (this.groups) await this.applyPartition(p);
  }

  /** Splits the mesh: every peer blocks every peer outside its group (both ends of each cut). */
  async setPartition(groups: string[][]): Promise<{ blocked: Record<string, string[]> }> {
    const names = this.peers.map((p) => p.name);
    const seen = new Set<string>();
    for (const g of groups) {
      if (!Array.isArray(g) || g.length === 0) throw new Error('every group must list at least one peer');
      for (const n of g) {
        if (!names.includes(n)) throw new Error(`no peer named ${JSON.stringify(n)}`);
        if (seen.has(n)) throw new Error(`${n} is in two groups`);
        seen.add(n);
      }
    }
    // Peers left out of every group stand alone.
    const full = [...groups.map((g) => [...g])];
    for (const n of names) if (!seen.has(n)) full.push([n]);
    if (full.length < 2) throw new Error('a partition needs at least two groups');
    if (this.groups) await this.heal();
    this.groups = full;
    const out: Record<string, string[]> = {};
    const errors: string[] = [];
    await Promise.all(
      this.live().map(async (p) => {
        try {
          out[p.name] = await this.applyPartition(p);
        } catch (e) {
          errors.push(`${p.name}: ${(e as Error).message}`);
        }
      }),
    );
    if (errors.length > 0) throw new Error(`partition partly failed: ${errors.join('; ')}`);
    return { blocked: out };
  }

  private async applyPartition(p: ManagedPeer): Promise<string[]> {
    const names = this.blockedNames(p.name);
    if (names.length === 0) return [];
    const ids = names.map((n) => this.get(n)!.peerId);
    await postJson(`${p.httpUrl}/api/partition`, { block: ids });
    return names;
  }

  async heal(): Promise<void> {
    this.groups = null;
    const errors: string[] = [];
    await Promise.all(
      this.live().map(async (p) => {
        try {
          await postJson(`${p.httpUrl}/api/heal`, {});
        } catch (e) {
          errors.push(`${p.name}: ${(e as Error).message}`);
        }
      }),
    );
    if (errors.length > 0) throw new Error(`heal partly failed: ${errors.join('; ')}`);
  }

  private digests = new Map<string, { at: number; digest: string; running: Promise<void> | null }>();

  /**
   * Each live peer's /api/status (its own view of the mesh and the board), polled in parallel, with
   * a fingerprint of its board (boardDigest of its /api/tasks, refreshed at most every 2.5 s per peer).
   */
  async statuses(): Promise<Record<string, unknown>> {
    // Several pages (or a page and a script) polling at once share one round of requests: a
    // status derives every task on the peer, which is not free on a board of thousands.
    const c = this.statusCache;
    if (c && (c.pending || Date.now() - c.at < 700)) return c.pending ?? c.value;
    const pending = this.pollStatuses();
    this.statusCache = { at: 0, value: c?.value ?? {}, pending };
    try {
      const value = await pending;
      this.statusCache = { at: Date.now(), value, pending: null };
      return value;
    } catch (e) {
      this.statusCache = null;
      throw e;
    }
  }

  private statusCache: { at: number; value: Record<string, unknown>; pending: Promise<Record<string, unknown>> | null } | null = null;

  private async pollStatuses(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    await Promise.all(
      this.peers.map(async (p) => {
        if (p.state !== 'running') {
          out[p.name] = null;
          return;
        }
        try {
          const res = await fetch(`${p.httpUrl}/api/status`, { signal: AbortSignal.timeout(2000) });
          const st = res.ok ? ((await res.json()) as Record<string, unknown>) : { error: `HTTP ${res.status}` };
          const d = this.digestOf(p);
          if (d) st.digest = d;
          out[p.name] = st;
          if (res.ok) this.lastKnown.set(p.name, { at: Date.now(), status: st });
        } catch (e) {
          out[p.name] = { error: (e as Error).message };
        }
      }),
    );
    return out;
  }

  private digestOf(p: ManagedPeer): string | undefined {
    const key = `${p.name}@${p.httpUrl}`;
    let d = this.digests.get(key);
    if (!d) this.digests.set(key, (d = { at: 0, digest: '', running: null }));
    const entry = d;
    if (!entry.running && Date.now() - entry.at > 2500) {
      entry.running = (async () => {
        try {
          const res = await fetch(`${p.httpUrl}/api/tasks`, { signal: AbortSignal.timeout(5000) });
          if (res.ok) {
            const j = (await res.json()) as { tasks: { id: string; state: string }[] };
            entry.digest = boardDigest(j.tasks);
          }
        } catch {
          /* keep the last one */
        } finally {
          entry.at = Date.now();
          entry.running = null;
        }
      })();
    }
    return entry.digest || undefined;
  }

  /** Submits tasks through a peer's API; resolves once the peer acknowledged (fsynced) them. */
  async submit(name: string, tasks: unknown[]): Promise<string[]> {
    const p = this.get(name);
    if (!p || p.state !== 'running') throw new Error(`${name} is not running`);
    const j = (await postJson(`${p.httpUrl}/api/tasks`, { tasks }, 15_000)) as { ids: string[] };
    return j.ids;
  }

  /** SIGTERM every peer, SIGKILL after `graceMs`. */
  async stop(graceMs = 8000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.peers.map((p) => (p.child ? stopChild(p.child, graceMs) : undefined)));
  }

  /** Last resort on process exit: synchronous SIGKILL of anything still running. */
  killAllNow(): void {
    for (const p of this.peers) {
      try {
        if (p.child && isRunning(p.child)) p.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}
