// Why: how the mesh behaves as it grows: throughput, p99 submit-to-start and sync bytes per task
// at 3, 5, 9 and 15 peers (every peer keeps a full replica, so bytes grow with the peer count).
import type { Config } from '../args.js';
import { Mesh } from '../mesh.js';
import { log, stopAll, until } from '../procs.js';
import { round, summary } from '../stats.js';
import { AgentmeshSystem } from '../systems.js';

export interface ScalePoint {
  peers: number;
  tasks: number;
  completed: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
  bytesPerTask: number;
  convergeMs: number;
  /**
   * Lease expiries all peers wrote (their `self.counters.expiriesWritten`) by the time the run was
   * done: a few at most on a mesh that keeps up; thousands when lagging observers end the rounds of
   * holders that are still working (the 30-peer stall).
   */
  expiries: number;
}

export async function runScale(cfg: Config): Promise<ScalePoint[]> {
  const out: ScalePoint[] = [];
  for (const n of cfg.scalePeers) {
    log(`scale: ${n} peers, ${cfg.scaleTasks} tasks`);
    let mesh: Mesh;
    try {
      mesh = await Mesh.start(`scale${n}`, { capacities: Array(n).fill(1_000_000), concurrency: cfg.peerConcurrency, agents: ['echo', 'sleep'] });
    } catch (e) {
      log(`scale: ${n} peers did not start: ${(e as Error).message}`);
      await stopAll(2000);
      continue;
    }
    const sys = new AgentmeshSystem(mesh);
    try {
      const bytes0 = await mesh.sentBytes();
      const tp = await sys.throughput(cfg.scaleTasks, cfg.batch, Math.max(60_000, cfg.scaleTasks * 24));
      const c0 = Date.now();
      let convergeMs = NaN;
      try {
        await until('every replica to show every task done', async () => (await mesh.statuses()).every((s) => s.tasks.done === cfg.scaleTasks), tp.completed === tp.tasks ? 120_000 : 20_000, 250);
        convergeMs = Date.now() - c0;
      } catch (e) {
        log(`scale: ${(e as Error).message}`);
      }
      let bytes = NaN;
      let expiries = NaN;
      try {
        const ss = await mesh.statuses(90_000);
        bytes = ss.reduce((a, s) => a + s.sync.sentBytes, 0) - bytes0;
        expiries = ss.reduce((a, s) => a + (s.self.counters?.expiriesWritten ?? 0), 0);
      } catch (e) {
        log(`scale: could not read sync counters: ${(e as Error).message}`);
      }
      const lat: number[] = [];
      const end = Date.now() + 60_000;
      try {
        for (let k = 0; k < 5; k++) await sys.sample(-1 - k);
        for (let k = 0; k < cfg.scaleSamples && Date.now() < end; k++) lat.push(await sys.sample(k));
      } catch (e) {
        log(`scale: latency sampling stopped after ${lat.length}: ${(e as Error).message}`);
      }
      const s = summary(lat);
      const p: ScalePoint = {
        peers: n,
        tasks: cfg.scaleTasks,
        completed: tp.completed,
        throughput: round(tp.throughput, 1),
        p50Ms: s.p50Ms,
        p99Ms: s.p99Ms,
        samples: s.n,
        bytesPerTask: round(bytes / Math.max(1, tp.completed), 0),
        convergeMs,
        expiries,
      };
      log(`scale: ${n} peers: ${p.throughput} tasks/s, p99 ${p.p99Ms} ms, ${p.bytesPerTask} B/task, ${p.expiries} lease expiries written`);
      out.push(p);
    } finally {
      await mesh.stop();
    }
  }
  return out;
}
