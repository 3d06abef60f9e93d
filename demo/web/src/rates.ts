// Throughput over time from the peers' own metrics rings (GET /api/metrics, kept by each peer, so a
// reload starts with the history). Rates are a counter's change over a few samples, timed by the
// samples' own timestamps; a counter that goes down means the peer restarted and its rate starts
// again. The brief's model beside it: T(s) = Σ Pᵢ over the peers up at that time (tasks/s), and
// D(s) = Σ dᵢ with dᵢ = Pᵢ × the data items each task of peer i writes (items/s); the prediction is
// T while tasks wait (a backlog), else min(offered load, T), the offered load being how fast tasks
// arrive (as the page's peer counts them).

import type { MetricsSample } from './api.js';

export interface PeerSeries {
  name: string;
  capacity: number;
  samples: MetricsSample[];
}

export interface Point {
  /** Seconds since epoch. */
  t: number;
  perPeer: Map<string, { tasks: number; items: number }>;
  measuredT: number;
  measuredD: number;
  modelT: number;
  modelD: number;
  offered: number | null;
  /** Tasks wait (pending or claimed): the mesh can work at T whatever arrives now. */
  backlog: boolean;
  predictedT: number | null;
}

const BUCKET_MS = 2000;
const WINDOW = 3;
const HISTORY_MS = 15 * 60_000;

/** Data items per finished task of a peer over its ring (1 when it has not finished any). */
export function itemsPerTask(samples: MetricsSample[]): number {
  const last = samples.at(-1);
  return last && last.done > 0 ? last.dataWrites / last.done : 1;
}

function rates(samples: MetricsSample[]): Map<number, { tasks: number; items: number }> {
  const out = new Map<number, { tasks: number; items: number }>();
  for (let i = 1; i < samples.length; i++) {
    let j = Math.max(0, i - WINDOW);
    // Not across a restart (a counter went down) or a gap (the peer was down).
    for (let k = i; k > j; k--) {
      const a = samples[k - 1]!;
      const b = samples[k]!;
      if (b.done < a.done || b.dataWrites < a.dataWrites || b.t - a.t > 10_000) {
        j = k;
        break;
      }
    }
    if (j === i) continue;
    const a = samples[j]!;
    const b = samples[i]!;
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0) continue;
    out.set(Math.round(b.t / BUCKET_MS), { tasks: (b.done - a.done) / dt, items: (b.dataWrites - a.dataWrites) / dt });
  }
  return out;
}

/** Tasks arriving per second, and whether tasks wait (pending or claimed), as one peer counts them. */
function arrivals(samples: MetricsSample[]): Map<number, { rate: number; backlog: boolean }> {
  const total = (s: MetricsSample) => Object.values(s.tasks).reduce((x, y) => x + y, 0);
  const out = new Map<number, { rate: number; backlog: boolean }>();
  for (let i = WINDOW; i < samples.length; i++) {
    const a = samples[i - WINDOW]!;
    const b = samples[i]!;
    const dt = (b.t - a.t) / 1000;
    const waiting = (b.tasks.pending ?? 0) + (b.tasks.claimed ?? 0);
    if (dt > 0 && b.t - a.t < 30_000) out.set(Math.round(b.t / BUCKET_MS), { rate: Math.max(0, (total(b) - total(a)) / dt), backlog: waiting > 0 });
  }
  return out;
}

/** One point per 2 s over the last 15 minutes, for the throughput and data-rate charts. */
export function points(series: PeerSeries[], via: string | null, now = Date.now()): Point[] {
  const per = series.map((s) => ({ s, r: rates(s.samples), perTask: itemsPerTask(s.samples) }));
  const keys = new Set<number>();
  for (const p of per) for (const k of p.r.keys()) if (k * BUCKET_MS >= now - HISTORY_MS) keys.add(k);
  const viaSeries = series.find((s) => s.name === via);
  const offered = viaSeries ? arrivals(viaSeries.samples) : new Map<number, { rate: number; backlog: boolean }>();
  return [...keys]
    .sort((a, b) => a - b)
    .map((k) => {
      const perPeer = new Map<string, { tasks: number; items: number }>();
      let modelT = 0;
      let modelD = 0;
      for (const p of per) {
        const r = p.r.get(k);
        if (!r) continue;
        perPeer.set(p.s.name, r);
        modelT += p.s.capacity;
        modelD += p.s.capacity * p.perTask;
      }
      const measuredT = [...perPeer.values()].reduce((a, r) => a + r.tasks, 0);
      const measuredD = [...perPeer.values()].reduce((a, r) => a + r.items, 0);
      const off = offered.get(k);
      return { t: (k * BUCKET_MS) / 1000, perPeer, measuredT, measuredD, modelT, modelD, offered: off?.rate ?? null, backlog: off?.backlog ?? false, predictedT: off === undefined ? null : off.backlog ? modelT : Math.min(off.rate, modelT) };
    });
}

/** Each peer's share of the tasks finished over the last `seconds`. */
export function shares(series: PeerSeries[], seconds = 10): Map<string, number> {
  const out = new Map<string, number>();
  let total = 0;
  for (const s of series) {
    const last = s.samples.at(-1);
    if (!last) continue;
    const first = s.samples.find((x) => x.t >= last.t - seconds * 1000 && x.done <= last.done) ?? last;
    const n = Math.max(0, last.done - first.done);
    out.set(s.name, n);
    total += n;
  }
  for (const [k, n] of out) out.set(k, total > 0 ? n / total : 0);
  return out;
}
