// Why: turns one run's figures into the three artefacts the repo keeps: latest.json (fixed keys
// the README and tests rely on), a readable table on stdout, and latest.md for the README.
import type { SystemResult } from './phases/compare.js';
import type { HealResult } from './phases/heal.js';
import type { ScalePoint } from './phases/scale.js';
import type { WorkedResult } from './phases/worked.js';
import { round } from './stats.js';
import { signingLine, type SigningResult } from './signing.js';

export interface Results {
  date: string;
  node: string;
  cpus: number;
  quick: boolean;
  bullmqSkipped: string | null;
  bullmq: { throughput: number | null; p50Ms: number | null; p99Ms: number | null } | null;
  agentmesh: { throughput: number | null; p50Ms: number | null; p99Ms: number | null } | null;
  throughputRatio: number | null;
  p99Ratio: number | null;
  p50Ratio: number | null;
  loaded: { agentmesh: SystemResult['loaded'] | null; bullmq: SystemResult['loaded'] | null; p99Ratio: number | null };
  details: { agentmesh: SystemResult | null; bullmq: SystemResult | null };
  workedCaseThroughput: number | null;
  workedCaseShares: number[] | null;
  workedCaseDataRate: number | null;
  workedCase: WorkedResult | null;
  heal: HealResult | null;
  scale: ScalePoint[];
  /** What signed entries cost (bench/src/signing.ts), measured in this process. */
  signing: SigningResult | null;
  runtimeSeconds: number;
  contention: { samples: number; loadavg1Max: number; foreign: string[]; byPhase: Record<string, { loadavg1Max: number; foreign: number }> };
  notes: string[];
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? round(a / b, 3) : null);

export function headline(s: SystemResult | undefined) {
  if (!s) return null;
  return { throughput: s.throughput ? round(s.throughput.throughput, 1) : null, p50Ms: s.latency?.p50Ms ?? null, p99Ms: s.latency?.p99Ms ?? null };
}

export function ratios(am: SystemResult | undefined, bq: SystemResult | undefined) {
  return {
    throughputRatio: ratio(am?.throughput?.throughput, bq?.throughput?.throughput),
    p99Ratio: ratio(am?.latency?.p99Ms, bq?.latency?.p99Ms),
    p50Ratio: ratio(am?.latency?.p50Ms, bq?.latency?.p50Ms),
    loadedP99Ratio: ratio(am?.loaded?.p99Ms, bq?.loaded?.p99Ms),
  };
}

const f = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

/** Markdown tables of one run (also what stdout shows). */
export function markdown(r: Results): string {
  const L: string[] = [];
  L.push(`Run ${r.date} · Node ${r.node} · ${r.cpus} CPUs · loopback, one machine${r.quick ? ' · **--quick smoke sizes**' : ''} · ${f(r.runtimeSeconds, 0)} s`);
  if (r.bullmqSkipped) L.push('', `**BullMQ skipped:** ${r.bullmqSkipped}`);
  const am = r.details.agentmesh;
  const bq = r.details.bullmq;
  L.push('', '| | agentmesh (3 peers) | BullMQ (3 workers × 50) | agentmesh / BullMQ |', '|---|---:|---:|---:|');
  L.push(`| throughput, tasks/s (${am?.throughput?.tasks ?? bq?.throughput?.tasks ?? '–'} no-op tasks) | ${f(am?.throughput?.throughput)} | ${f(bq?.throughput?.throughput)} | ${f(r.throughputRatio, 3)} |`);
  L.push(`| CPU per task, ms (all peer processes together) | ${f(am?.throughput?.cpuMsPerTask, 3)} | – | |`);
  L.push(`| CPU per task, ms, until the peers are quiet again (archival after the burst included) | ${f(am?.throughput?.settledCpuMsPerTask, 3)} | – | |`);
  L.push(`| submit-to-start p50, ms (unloaded, n=${am?.latency?.n ?? '–'}/${bq?.latency?.n ?? '–'}) | ${f(am?.latency?.p50Ms)} | ${f(bq?.latency?.p50Ms)} | ${f(r.p50Ratio, 2)} |`);
  L.push(`| submit-to-start p99, ms (unloaded) | ${f(am?.latency?.p99Ms)} | ${f(bq?.latency?.p99Ms)} | ${f(r.p99Ratio, 2)} |`);
  L.push(`| p50, ms, under 50% of peak (${f(am?.loaded?.offeredRate, 0)} / ${f(bq?.loaded?.offeredRate, 0)} tasks/s, n=${am?.loaded?.n ?? '–'}/${bq?.loaded?.n ?? '–'}) | ${f(am?.loaded?.p50Ms)} | ${f(bq?.loaded?.p50Ms)} | ${f(ratio(am?.loaded?.p50Ms, bq?.loaded?.p50Ms), 2)} |`);
  L.push(`| p99, ms, under 50% of peak | ${f(am?.loaded?.p99Ms)} | ${f(bq?.loaded?.p99Ms)} | ${f(r.loaded.p99Ratio, 2)} |`);
  if (r.signing) L.push('', `${signingLine(r.signing)} (included in the agentmesh figures above).`);
  const w = r.workedCase;
  if (w) {
    L.push('', `Worked case (3 peers of capacity ${w.capacities.join(', ')} tasks/s, offered ${w.offeredRate} tasks/s, ${w.seconds} s measured):`, '');
    L.push('| | measured | model |', '|---|---:|---:|');
    L.push(`| T, tasks/s | ${f(w.measuredT, 2)} | ${w.modelT} |`);
    L.push(`| shares P1/P2/P3, % | ${w.shares.map((s) => f(s * 100, 1)).join(' / ')} | ${w.modelShares.map((s) => f(s * 100, 1)).join(' / ')} |`);
    L.push(`| per peer, tasks/s | ${w.perPeerTasksPerSec.map((x) => f(x, 2)).join(' / ')} | ${w.capacities.join(' / ')} |`);
    L.push(`| D, data items/s | ${f(w.measuredD, 2)} | ${w.modelD} |`);
    L.push(`| per peer, items/s | ${w.perPeerDataPerSec ? w.perPeerDataPerSec.map((x) => f(x, 2)).join(' / ') : '–'} | ${w.capacities.map((c) => c / 2).join(' / ')} |`);
  }
  const h = r.heal;
  if (h) {
    L.push('', `Heal (${h.peers} peers in two halves, ${h.tasksPerSide} tasks per half, then heal):`, '');
    L.push('| | mesh | minimal Yjs diff | ratio |', '|---|---:|---:|---:|');
    L.push(`| bytes | ${h.bytes} (${h.messages} messages) | ${h.minimalDiffBytes} | ${f(h.bytesRatio, 2)} |`);
    L.push(`| ms | ${h.ms} (heal to every peer agreeing) | ${f(h.minimalDiffApplyMs, 1)} (apply both diffs, one process) | |`);
    if (h.receivers) {
      L.push(`| received, all peers (per-receiver definition) | ${h.receivers.reduce((a, x) => a + x.receivedBytes, 0)} | ${h.receivers.reduce((a, x) => a + x.minimalBytes, 0)} (each peer's own diff, summed) | ${f(h.receivedRatioTotal, 2)} |`);
      L.push(`| received, worst peer | ${h.receivers.map((x) => x.receivedBytes).join(' / ')} | ${h.receivers.map((x) => x.minimalBytes).join(' / ')} | ${f(h.receivedRatioMax, 2)} |`);
      L.push(`| ms, into an indexed replica (total definition) | ${h.ms} | ${f(h.replicaApplyMs, 1)} (one receiver applies its diff with the board's index; median of 5, peers stopped) | ${f(h.ms / Math.max(h.replicaApplyMs, 0.001), 1)} |`);
      L.push(`| ms, each receiver until it held both halves (per-receiver definition) | ${h.receivers.map((x) => x.healMs).join(' / ')} | ${h.receivers.map((x) => f(x.applyMs, 1)).join(' / ')} (its own diff into an indexed replica, median of 5) | ${f(h.timeRatioMax, 1)} (worst) |`);
    }
  }
  if (r.scale.length) {
    L.push('', 'Scale (no-op tasks, capacity unbounded, concurrency 50 per peer):', '');
    L.push('| peers | tasks | throughput, tasks/s | p50 ms | p99 ms (n) | sync bytes/task | replicas agree after, ms | lease expiries written |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const p of r.scale) L.push(`| ${p.peers} | ${p.completed}/${p.tasks} | ${f(p.throughput)} | ${f(p.p50Ms)} | ${f(p.p99Ms)} (${p.samples}) | ${f(p.bytesPerTask, 0)} | ${f(p.convergeMs, 0)} | ${f(p.expiries, 0)} |`);
  }
  if (r.notes.length) L.push('', ...r.notes.map((n) => `- ${n}`));
  return L.join('\n') + '\n';
}
