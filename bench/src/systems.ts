// Why: the throughput and latency phases run the same procedure against two systems. This gives
// both (agentmesh peers over libp2p, BullMQ workers on Redis) one small interface: push N no-op
// tasks and time them, time one task's submit-to-start, and run a background load at a rate.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { Mesh, submitSpread } from './mesh.js';
import { log, spawnTracked, stopChild, until } from './procs.js';

export interface ThroughputResult {
  tasks: number;
  completed: number;
  ms: number;
  throughput: number;
  /** CPU time of every peer process together (user + system, from /proc) per completed task, ms. */
  cpuMsPerTask?: number;
  /**
   * The same from the first submit until the peers are quiet again after the last completion: the
   * housekeeping a burst leaves behind (archival of the finished tasks) counted too. Which share of
   * it falls inside the run varies from run to run, and with it `cpuMsPerTask` and the throughput.
   */
  settledCpuMsPerTask?: number;
}

/** user + system CPU time of a process so far, ms (Linux /proc; undefined elsewhere or once it exited). */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 of stat (utime, stime), in clock ticks of 1/100 s on Linux
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface BenchSystem {
  name: string;
  throughput(n: number, batch: number, deadlineMs: number): Promise<ThroughputResult>;
  /** Submit-to-start of one task, ms. */
  sample(k: number): Promise<number>;
  /** Starts a background load of `rate` tasks/s; the returned function stops it (and reports what was offered). */
  startLoad(rate: number): () => Promise<{ submitted: number; seconds: number }>;
  stop(): Promise<void>;
}

/** A paced generator: every tick it submits what the rate owes, with at most one call in flight. */
function pacedLoad(rate: number, submit: (count: number, tick: number) => Promise<void>): () => Promise<{ submitted: number; seconds: number }> {
  const t0 = Date.now();
  let submitted = 0;
  let tick = 0;
  let inflight: Promise<void> | undefined;
  let stopped = false;
  const iv = setInterval(() => {
    if (stopped || inflight) return;
    const owed = Math.floor(((Date.now() - t0) / 1000) * rate) - submitted;
    if (owed <= 0) return;
    const n = Math.min(owed, 5000);
    submitted += n;
    inflight = submit(n, tick++)
      .catch((e: Error) => log(`background load: ${e.message}`))
      .finally(() => (inflight = undefined));
  }, 20);
  return async () => {
    stopped = true;
    clearInterval(iv);
    await inflight;
    return { submitted, seconds: (Date.now() - t0) / 1000 };
  };
}

/**
 * A latency probe: a no-op of a type the background load (echo) does not use, so the peers of a
 * latency phase can print the lines of probes alone (`--task-events sleep`), as BullMQ's workers
 * report the starts of latency jobs alone. Every mesh that is probed runs the sleep agent.
 */
const PROBE_TASK = { type: 'sleep', payload: { ms: 0 } };

/** The peer flags of a mesh whose throughput is not counted from its event lines: probes' lines only. */
export const PROBE_LINES_ONLY = ['--task-events', PROBE_TASK.type];

export class AgentmeshSystem implements BenchSystem {
  name = 'agentmesh';
  constructor(readonly mesh: Mesh) {}

  async throughput(n: number, batch: number, deadlineMs: number): Promise<ThroughputResult> {
    const cpu0 = this.mesh.peers.map((p) => processCpuMs(p.child.pid));
    const t0 = Date.now();
    const ids = await submitSpread(this.mesh, n, batch, (i) => ({ type: 'echo', payload: { i } }));
    log(`agentmesh: ${n} tasks submitted in ${Date.now() - t0} ms`);
    let completed = n;
    const progress = setInterval(() => log(`agentmesh: ${ids.filter((id) => this.mesh.done.has(id)).length}/${n} done`), 10_000);
    try {
      await this.mesh.waitDone(ids, Math.max(1000, deadlineMs - (Date.now() - t0)));
    } catch (e) {
      log(`agentmesh: ${(e as Error).message}`);
      completed = ids.filter((id) => this.mesh.done.has(id)).length;
    } finally {
      clearInterval(progress);
    }
    const last = Math.max(...ids.map((id) => this.mesh.done.get(id)?.t ?? 0));
    const ms = (completed === n ? last : Date.now()) - t0;
    const cpu1 = this.mesh.peers.map((p) => processCpuMs(p.child.pid));
    const used = cpu1.map((c, i) => (c !== undefined && cpu0[i] !== undefined ? c - cpu0[i]! : NaN)).reduce((a, b) => a + b, 0);
    const cpuMsPerTask = Number.isFinite(used) && completed > 0 ? used / completed : undefined;
    if (cpuMsPerTask !== undefined) log(`agentmesh: CPU of the ${this.mesh.peers.length} peers ${Math.round(used)} ms = ${cpuMsPerTask.toFixed(3)} ms per task`);
    const settled = await this.settledCpu(cpu0);
    const settledCpuMsPerTask = settled !== undefined && completed > 0 ? settled / completed : undefined;
    if (settledCpuMsPerTask !== undefined) log(`agentmesh: CPU until the peers were quiet again ${Math.round(settled!)} ms = ${settledCpuMsPerTask.toFixed(3)} ms per task`);
    return {
      tasks: n,
      completed,
      ms,
      throughput: (completed / ms) * 1000,
      ...(cpuMsPerTask !== undefined ? { cpuMsPerTask } : {}),
      ...(settledCpuMsPerTask !== undefined ? { settledCpuMsPerTask } : {}),
    };
  }

  /**
   * The peers' CPU since `cpu0` once they are quiet (under 5% of a core each over half a second,
   * their idle rate being about 2%), or after 30 s; undefined when /proc cannot be read.
   */
  private async settledCpu(cpu0: (number | undefined)[]): Promise<number | undefined> {
    const read = () => this.mesh.peers.map((p) => processCpuMs(p.child.pid));
    const sum = (c: (number | undefined)[]) => c.reduce<number>((a, v, i) => a + (v ?? NaN) - (cpu0[i] ?? NaN), 0);
    const end = Date.now() + 30_000;
    let prev = sum(read());
    while (Date.now() < end && Number.isFinite(prev)) {
      await new Promise((r) => setTimeout(r, 500));
      const now = sum(read());
      if (now - prev < 0.05 * 500 * this.mesh.peers.length) return now;
      prev = now;
    }
    return Number.isFinite(prev) ? prev : undefined;
  }

  async sample(k: number): Promise<number> {
    const t0 = Date.now();
    const [id] = await this.mesh.submit(k, [PROBE_TASK]);
    const s = await this.mesh.waitStart(id!, 30_000);
    return s.t - t0;
  }

  startLoad(rate: number) {
    return pacedLoad(rate, async (count, tick) => {
      const tasks = Array.from({ length: count }, (_, i) => ({ type: 'echo', payload: { bg: i } }));
      await this.mesh.submit(tick, tasks);
    });
  }

  async stop(): Promise<void> {
    await this.mesh.stop();
  }
}

const WORKER_JS = fileURLToPath(new URL('./bull-worker.js', import.meta.url));
const POLYFILL = fileURLToPath(new URL('../../scripts/polyfills.mjs', import.meta.url));

interface WorkerState {
  child: ChildProcess;
  completed: number;
  lastAt: number;
}

export class BullSystem implements BenchSystem {
  name = 'bullmq';
  private readonly queue: Queue;
  private readonly workers: WorkerState[] = [];
  private readonly startWaiters = new Map<number, (t: number) => void>();
  private base = 0;

  private constructor(readonly port: number, readonly queueName: string) {
    this.queue = new Queue(queueName, { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null } });
  }

  static async start(port: number, queueName: string, workers: number, concurrency: number): Promise<BullSystem> {
    const s = new BullSystem(port, queueName);
    await s.queue.waitUntilReady();
    await s.queue.obliterate({ force: true });
    let ready = 0;
    for (let i = 0; i < workers; i++) {
      const child = spawnTracked(process.execPath, ['--import', POLYFILL, WORKER_JS, String(port), queueName, String(concurrency)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const w: WorkerState = { child, completed: 0, lastAt: 0 };
      child.on('message', (m: { kind: string; completed?: number; lastAt?: number; l?: number; t?: number }) => {
        if (m.kind === 'ready') ready++;
        else if (m.kind === 'count') {
          w.completed = m.completed!;
          w.lastAt = m.lastAt!;
        } else if (m.kind === 'start') {
          const f = s.startWaiters.get(m.l!);
          if (f) {
            s.startWaiters.delete(m.l!);
            f(m.t!);
          }
        }
      });
      s.workers.push(w);
    }
    await until('BullMQ workers ready', () => ready === workers, 20_000, 20);
    log(`bullmq: ${workers} worker processes (concurrency ${concurrency}) on queue ${queueName}`);
    return s;
  }

  private completed(): number {
    return this.workers.reduce((a, w) => a + w.completed, 0);
  }

  async throughput(n: number, batch: number, deadlineMs: number): Promise<ThroughputResult> {
    const base = this.completed();
    const t0 = Date.now();
    for (let from = 0; from < n; from += batch) {
      const jobs = [];
      for (let i = from; i < Math.min(n, from + batch); i++) jobs.push({ name: 'echo', data: { i }, opts: { removeOnComplete: true, removeOnFail: 1000 } });
      await this.queue.addBulk(jobs);
    }
    log(`bullmq: ${n} jobs added in ${Date.now() - t0} ms`);
    try {
      await until('BullMQ jobs complete', () => this.completed() - base >= n, Math.max(1000, deadlineMs - (Date.now() - t0)), 20);
    } catch (e) {
      log(`bullmq: ${(e as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 120)); // last count report
    const completed = Math.min(n, this.completed() - base);
    const last = Math.max(...this.workers.map((w) => w.lastAt));
    const ms = (completed === n ? last : Date.now()) - t0;
    return { tasks: n, completed, ms, throughput: (completed / ms) * 1000 };
  }

  async sample(k: number): Promise<number> {
    const l = ++this.base * 1_000_000 + k;
    const started = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bullmq job ${l} did not start in 30 s`)), 30_000);
      this.startWaiters.set(l, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
    const t0 = Date.now();
    await this.queue.add('lat', { l }, { removeOnComplete: true, removeOnFail: 1000 });
    return (await started) - t0;
  }

  startLoad(rate: number) {
    return pacedLoad(rate, async (count) => {
      await this.queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'bg', data: { bg: i }, opts: { removeOnComplete: true, removeOnFail: 1000 } })));
    });
  }

  async stop(): Promise<void> {
    await this.queue.close();
    await Promise.all(this.workers.map((w) => stopChild(w.child, 4000)));
  }
}
