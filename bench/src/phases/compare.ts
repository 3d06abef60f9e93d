// Why: phases 1 and 2 of the brief: raw throughput (N no-op tasks, first submit to last
// completion) and submit-to-start latency, unloaded and under a background load at half the
// measured peak, for agentmesh (3 peer processes) and BullMQ (3 worker processes).
import type { Config } from '../args.js';
import { Mesh } from '../mesh.js';
import { log, sleep } from '../procs.js';
import { round, summary } from '../stats.js';
import { AgentmeshSystem, BullSystem, PROBE_LINES_ONLY, type BenchSystem, type ThroughputResult } from '../systems.js';

export interface LatencyResult {
  n: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export interface SystemResult {
  throughput?: ThroughputResult;
  latency?: LatencyResult;
  loaded?: LatencyResult & { loadRate: number; offeredRate: number };
}

async function startSystem(name: 'agentmesh' | 'bullmq', cfg: Config, redisPort: number | undefined, tag: string): Promise<BenchSystem> {
  if (name === 'agentmesh') {
    // The latency phase reads the probes' lines only; the throughput phase counts every task's done line.
    const peerArgs = tag === 'lat' ? PROBE_LINES_ONLY : [];
    return new AgentmeshSystem(await Mesh.start(tag, { capacities: [1_000_000, 1_000_000, 1_000_000], concurrency: cfg.peerConcurrency, agents: ['echo', 'sleep'], peerArgs }));
  }
  return BullSystem.start(redisPort!, `bench-${tag}-${Date.now()}`, cfg.bullWorkers, cfg.bullConcurrency);
}

async function samples(sys: BenchSystem, n: number, deadlineMs: number, label: string, logSlowMs?: number): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + deadlineMs;
  let lastLog = Date.now();
  for (let k = 0; k < n && Date.now() < end; k++) {
    try {
      const ms = await sys.sample(k);
      out.push(ms);
      if (logSlowMs !== undefined && ms > logSlowMs) log(`${label}: sample ${k} took ${ms} ms`);
    } catch (e) {
      // A sample that never starts: the system fell behind what it was offered. The samples so
      // far are kept (and the shortfall shows in n); the other phases still run.
      log(`${label}: stopped after ${out.length} of ${n} samples: ${(e as Error).message}`);
      break;
    }
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      log(`${label}: ${out.length}/${n} samples`);
    }
  }
  if (out.length < n) log(`${label}: deadline hit after ${out.length} of ${n} samples`);
  return out;
}

export async function runCompare(cfg: Config, redisPort: number | undefined): Promise<Record<'agentmesh' | 'bullmq', SystemResult | undefined>> {
  const results: Record<'agentmesh' | 'bullmq', SystemResult | undefined> = { agentmesh: undefined, bullmq: undefined };
  const systems: ('agentmesh' | 'bullmq')[] = redisPort !== undefined ? ['agentmesh', 'bullmq'] : ['agentmesh'];
  for (const name of systems) {
    const r: SystemResult = {};
    results[name] = r;
    if (cfg.only.has('throughput')) {
      log(`throughput: ${name}, ${cfg.tasks} tasks`);
      const sys = await startSystem(name, cfg, redisPort, 'tp');
      try {
        r.throughput = await sys.throughput(cfg.tasks, cfg.batch, Math.max(60_000, cfg.tasks * 30));
        log(`throughput: ${name} ${round(r.throughput.throughput, 1)} tasks/s (${r.throughput.completed}/${r.throughput.tasks} in ${r.throughput.ms} ms)`);
      } finally {
        await sys.stop();
      }
    }
    if (cfg.only.has('latency')) {
      const sys = await startSystem(name, cfg, redisPort, 'lat');
      try {
        // Warm up connections and code paths; not counted.
        for (let k = 0; k < 10; k++) await sys.sample(-1 - k);
        log(`latency: ${name}, ${cfg.latencySamples} unloaded samples`);
        r.latency = summary(await samples(sys, cfg.latencySamples, 300_000, `latency ${name}`, cfg.logSlowMs));
        log(`latency: ${name} p50 ${r.latency.p50Ms} ms, p99 ${r.latency.p99Ms} ms`);
        let peak = r.throughput?.throughput;
        if (!peak) {
          const n = Math.min(cfg.tasks, 2000);
          log(`latency: ${name} has no throughput figure; measuring peak with ${n} tasks`);
          peak = (await sys.throughput(n, cfg.batch, 120_000)).throughput;
          await sleep(500);
        }
        const rate = peak / 2;
        log(`latency: ${name}, ${cfg.loadedSamples} samples under background load of ${round(rate, 1)} tasks/s`);
        const stopLoad = sys.startLoad(rate);
        let loaded: number[];
        try {
          await sleep(1000);
          loaded = await samples(sys, cfg.loadedSamples, 300_000, `loaded latency ${name}`, cfg.logSlowMs);
        } finally {
          const offered = await stopLoad();
          r.loaded = { ...summary(loaded! ?? []), loadRate: round(rate, 1), offeredRate: round(offered.submitted / offered.seconds, 1) };
        }
        log(`latency: ${name} under load p50 ${r.loaded.p50Ms} ms, p99 ${r.loaded.p99Ms} ms (offered ${r.loaded.offeredRate}/s)`);
      } finally {
        await sys.stop();
      }
    }
  }
  return results;
}
