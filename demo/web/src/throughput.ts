// Measured throughput per peer and the brief's model beside it. Each peer's heartbeat in the
// document carries running counters (`done`, `dataWrites`); rates are their change over a few
// seconds, timed by the beats' own timestamps (so sampling jitter does not show). A counter that
// goes down means the peer restarted: its history starts again. The model: T(s) = sum of the
// capacities of the live peers; D(s) = sum of their data rates at capacity (capacity times the
// data items each peer wrote per task); predicted = min(offered load, T).

import type { TaskBoard } from '@agentmesh/crdt-store';
import { LEASE_MS } from './derive.js';

interface Sample {
  at: number;
  done: number;
  data: number;
}

export interface PeerRate {
  id: string;
  name: string;
  capacity: number;
  alive: boolean;
  tasksPerSec: number;
  itemsPerSec: number;
  /** Data items per finished task, over the peer's life. */
  itemsPerTask: number;
}

export interface Point {
  /** Page time, seconds since epoch. */
  t: number;
  peers: PeerRate[];
  measuredT: number;
  measuredD: number;
  modelT: number;
  modelD: number;
  offered: number;
  predictedT: number;
}

const WINDOW_MS = 3000;
const HISTORY = 300;

export class Throughput {
  private readonly samples = new Map<string, Sample[]>();
  readonly points: Point[] = [];
  /** Peer ids in the order the charts show them (by name). */
  order: string[] = [];

  constructor(private readonly board: TaskBoard) {}

  private rate(id: string): { tasks: number; items: number; perTask: number } {
    const beat = this.board.beat(id);
    if (!beat) return { tasks: 0, items: 0, perTask: 1 };
    let list = this.samples.get(id);
    if (!list) this.samples.set(id, (list = []));
    const last = list.at(-1);
    if (!last || last.at !== beat.at) {
      if (last && (beat.done < last.done || beat.dataWrites < last.data)) list.length = 0; // restarted
      list.push({ at: beat.at, done: beat.done, data: beat.dataWrites });
      while (list.length > 2 && list[1]!.at <= beat.at - WINDOW_MS) list.shift();
      if (list.length > 64) list.splice(0, list.length - 64);
    }
    const perTask = beat.done > 0 ? beat.dataWrites / beat.done : 1;
    const first = list[0]!;
    const newest = list.at(-1)!;
    const dt = (newest.at - first.at) / 1000;
    if (dt < 0.4) return { tasks: 0, items: 0, perTask };
    return { tasks: (newest.done - first.done) / dt, items: (newest.data - first.data) / dt, perTask };
  }

  /** Takes one sample (call about once a second); `offered` is tasks/s created recently. */
  sample(offered: number, now = Date.now()): Point {
    const infos = this.board.peers().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const p of infos) if (!this.order.includes(p.id)) this.order.push(p.id);
    this.order.sort((a, b) => {
      const na = this.board.peer(a)?.name ?? a;
      const nb = this.board.peer(b)?.name ?? b;
      return na < nb ? -1 : na > nb ? 1 : 0;
    });
    const peers: PeerRate[] = this.order.map((id) => {
      const info = this.board.peer(id);
      const seen = this.board.beatSeenAt(id);
      const alive = seen !== undefined && now - seen <= LEASE_MS;
      const r = this.rate(id);
      return {
        id,
        name: info?.name ?? id.slice(-6),
        capacity: info?.capacity ?? 0,
        alive,
        tasksPerSec: alive ? r.tasks : 0,
        itemsPerSec: alive ? r.items : 0,
        itemsPerTask: r.perTask,
      };
    });
    const live = peers.filter((p) => p.alive);
    const modelT = live.reduce((s, p) => s + p.capacity, 0);
    const modelD = live.reduce((s, p) => s + p.capacity * p.itemsPerTask, 0);
    const point: Point = {
      t: now / 1000,
      peers,
      measuredT: peers.reduce((s, p) => s + p.tasksPerSec, 0),
      measuredD: peers.reduce((s, p) => s + p.itemsPerSec, 0),
      modelT,
      modelD,
      offered,
      predictedT: Math.min(offered, modelT),
    };
    this.points.push(point);
    if (this.points.length > HISTORY) this.points.shift();
    return point;
  }

  /** Each peer's share of the tasks finished over the last `seconds` (by the sampled rates). */
  shares(seconds = 10): Map<string, number> {
    const recent = this.points.slice(-seconds);
    const sums = new Map<string, number>();
    let total = 0;
    for (const pt of recent) {
      for (const p of pt.peers) {
        sums.set(p.id, (sums.get(p.id) ?? 0) + p.tasksPerSec);
        total += p.tasksPerSec;
      }
    }
    const out = new Map<string, number>();
    for (const [id, s] of sums) out.set(id, total > 0 ? s / total : 0);
    return out;
  }
}
