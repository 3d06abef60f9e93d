// Why: the brief's worked case on real processes: peers of capacity 10, 20 and 30 tasks/s under a
// steady overload. Measures T (tasks/s completed in steady state) against 60, each peer's share
// against 1:2:3, and D (shared-data items/s) against 30: half the tasks are traffic.forecast,
// which writes one data item each, so peers at capacity write 5, 10 and 15 items/s.
import type { Config } from '../args.js';
import { Mesh, type TaskInput } from '../mesh.js';
import { log, sleep, until } from '../procs.js';
import { round } from '../stats.js';
import { connectDoc } from '../ydoc.js';

export interface WorkedResult {
  seconds: number;
  capacities: number[];
  offeredRate: number;
  modelT: number;
  measuredT: number;
  shares: number[];
  modelShares: number[];
  perPeerTasksPerSec: number[];
  modelD: number;
  measuredD: number | null;
  perPeerDataPerSec: number[] | null;
  dataNote: string;
  backlogAtEnd: number;
}

const CAPS = [10, 20, 30];
const ITEMS_PER_TASK = 0.5;

function task(i: number): TaskInput {
  if (i % 2 === 0) return { type: 'echo', payload: { i } };
  const base = 100 + (i % 50);
  return { type: 'traffic.forecast', payload: { junction: `J${i}`, counts: [base, base + 10, base + 8, base + 20, base + 30, base + 29, base + 40, base + 50] } };
}

export async function runWorked(cfg: Config): Promise<WorkedResult> {
  const mesh = await Mesh.start('worked', { capacities: CAPS, concurrency: 16, agents: ['echo', 'traffic.forecast'] });
  try {
    const modelT = CAPS.reduce((a, b) => a + b, 0);
    const offered = modelT * 1.1; // 10% over the model: every peer always has work waiting
    const warmMs = cfg.workedWarmupSeconds * 1000;
    const runMs = cfg.workedSeconds * 1000;
    log(`worked case: capacities ${CAPS.join('/')}, offering ${round(offered, 1)} tasks/s for ${cfg.workedWarmupSeconds} s warm-up + ${cfg.workedSeconds} s measured`);
    const t0 = Date.now();
    const from = t0 + warmMs;
    const to = from + runMs;
    let submitted = 0;
    let tick = 0;
    let lastLog = t0;
    while (Date.now() < to) {
      const owed = Math.floor(((Date.now() - t0) / 1000) * offered) - submitted;
      if (owed > 0) {
        const batch = Array.from({ length: owed }, (_, k) => task(submitted + k));
        submitted += owed;
        await mesh.submit(tick++, batch);
      }
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        log(`worked case: ${submitted} submitted, ${mesh.done.size} done`);
      }
      await sleep(100);
    }
    await sleep(1500); // let the last done lines of the window arrive
    const names = mesh.peers.map((p) => p.name);
    const per = names.map(() => 0);
    for (const d of mesh.done.values()) if (d.t >= from && d.t < to) per[names.indexOf(d.peer)]!++;
    const total = per.reduce((a, b) => a + b, 0);
    const secs = runMs / 1000;
    // D: count shared-data items in the document written inside the window, by writer.
    let measuredD: number | null = null;
    let perD: number[] | null = null;
    let dataNote = 'shared-data entries (data map) with `at` inside the window, read through a y-websocket client';
    try {
      const client = await connectDoc(mesh.peers[0]!.ready.wsUrl);
      try {
        const ids = mesh.peers.map((p) => p.ready.peerId);
        const data = client.doc.getMap('data');
        await until('data map to fill', () => data.size > 0, 10_000, 100);
        await sleep(1000);
        perD = ids.map(() => 0);
        data.forEach((v) => {
          const e = v as { by?: string; at?: number };
          const i = ids.indexOf(e.by ?? '');
          if (i >= 0 && typeof e.at === 'number' && e.at >= from && e.at < to) perD![i]!++;
        });
        measuredD = perD.reduce((a, b) => a + b, 0) / secs;
        perD = perD.map((x) => round(x / secs));
      } finally {
        client.close();
      }
    } catch (e) {
      dataNote = `could not read the data map: ${(e as Error).message}`;
      log(`worked case: ${dataNote}`);
    }
    const st = await mesh.status(0);
    const result: WorkedResult = {
      seconds: secs,
      capacities: CAPS,
      offeredRate: round(offered, 1),
      modelT,
      measuredT: round(total / secs),
      shares: per.map((x) => round(total ? x / total : 0, 4)),
      modelShares: CAPS.map((c) => round(c / modelT, 4)),
      perPeerTasksPerSec: per.map((x) => round(x / secs)),
      modelD: CAPS.reduce((a, c) => a + c * ITEMS_PER_TASK, 0),
      measuredD: measuredD === null ? null : round(measuredD),
      perPeerDataPerSec: perD,
      dataNote,
      backlogAtEnd: (st.tasks.pending ?? 0) + (st.tasks.claimed ?? 0),
    };
    log(`worked case: T ${result.measuredT} (model ${modelT}), shares ${result.shares.join('/')}, D ${result.measuredD} (model ${result.modelD})`);
    return result;
  } finally {
    await mesh.stop();
  }
}
