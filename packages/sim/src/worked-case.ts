// The brief's worked case, measured: three peers of capacity 10, 20 and 30 tasks/s whose agents
// produce 5, 10 and 15 data items/s. The model says T(s) = sum of P_i = 60 tasks/s and
// D(s) = sum of data rates = 30 items/s; this runs the real peers in virtual time under a steady
// overload and reports what they actually did, and each peer's share of the work.

import { createRng } from '@agentmesh/scheduler';
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { Peer, silentLogger, type AgentRegistry } from '@agentmesh/peer';
import { VirtualScheduler, drainMicrotasks } from './scheduler.js';
import { SimNetwork } from './network.js';

export interface WorkedCaseResult {
  seed: number;
  seconds: number;
  capacities: number[];
  dataRates: number[];
  modelT: number;
  modelD: number;
  measuredT: number;
  measuredD: number;
  shares: number[];
  modelShares: number[];
  perPeer: { name: string; capacity: number; tasksPerSec: number; dataPerSec: number }[];
}

export async function runWorkedCase(opts: { seed: number; seconds?: number; capacities?: number[]; dataPerTask?: number }): Promise<WorkedCaseResult> {
  const seconds = opts.seconds ?? 60;
  const capacities = opts.capacities ?? [10, 20, 30];
  // 5/10/15 items/s from 10/20/30 tasks/s: every agent writes one item for every second task.
  const dataPerTask = opts.dataPerTask ?? 0.5;
  const rng = createRng(opts.seed);
  const sched = new VirtualScheduler();
  const net = new SimNetwork(sched, rng.fork('net'));
  const warmup = 5000;
  const end = warmup + seconds * 1000;
  const done = capacities.map(() => 0);
  const data = capacities.map(() => 0);
  const peers: Peer[] = capacities.map((capacity, i) => {
    let written = 0;
    let ran = 0;
    const agents: AgentRegistry = {
      work: async (_payload, ctx) => {
        await ctx.sleep(2);
        ran++;
        // Exactly `dataPerTask` items per task on average, deterministically.
        while (written < Math.floor(ran * dataPerTask)) {
          ctx.data.put(`item-${ctx.peer.id}-${written}`, { n: written });
          written++;
          if (sched.time >= warmup && sched.time < end) data[i]!++;
        }
        return { ok: true };
      },
    };
    const owner = sched.newOwner();
    const peer = new Peer({
      id: `w${i}`,
      name: `P${i + 1}`,
      capacity,
      concurrency: 16,
      agents,
      transport: net.attach(`w${i}`),
      storage: new MemoryStorage(new MemoryDisk(), { defer: (fn) => void sched.at(1, fn, owner) }),
      clock: sched.clockFor(owner, 0),
      seed: opts.seed * 10 + i,
      meshSeed: opts.seed,
      logger: silentLogger,
      timing: { compactEveryRecords: 5000 },
    });
    peer.on('run-end', (e) => {
      if (e.outcome === 'done' && sched.time >= warmup && sched.time < end) done[i]!++;
    });
    return peer;
  });
  await Promise.all(peers.map((p) => p.start()));
  const modelT = capacities.reduce((a, b) => a + b, 0);
  // Offer 10% more than the model can take, so every peer always has work waiting.
  const offered = modelT * 1.1;
  let submitted = 0;
  const stepMs = 10;
  let step = 0;
  while (sched.time < end) {
    const target = Math.floor(((sched.time + stepMs) / 1000) * offered);
    const batch: { type: string; payload: unknown }[] = [];
    for (; submitted < target; submitted++) batch.push({ type: 'work', payload: { i: submitted } });
    if (batch.length) void peers[step % peers.length]!.submit(batch);
    step++;
    await sched.runUntil(sched.time + stepMs, drainMicrotasks);
  }
  for (const p of peers) p.crash();
  const total = done.reduce((a, b) => a + b, 0);
  const totalData = data.reduce((a, b) => a + b, 0);
  const dataRates = capacities.map((c) => c * dataPerTask);
  return {
    seed: opts.seed,
    seconds,
    capacities,
    dataRates,
    modelT,
    modelD: dataRates.reduce((a, b) => a + b, 0),
    measuredT: total / seconds,
    measuredD: totalData / seconds,
    shares: done.map((d) => (total ? d / total : 0)),
    modelShares: capacities.map((c) => c / modelT),
    perPeer: capacities.map((capacity, i) => ({ name: peers[i]!.name, capacity, tasksPerSec: done[i]! / seconds, dataPerSec: data[i]! / seconds })),
  };
}
