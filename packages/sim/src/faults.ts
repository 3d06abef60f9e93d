// The fault plan of one run, drawn up front from the seed: the network's noise (delay, reorder,
// drop, duplicate), a series of partitions (one peer cut off, two halves, or one-way) ending in a
// final split into halves, and a series of crash-restarts ending with a peer down. The runner
// owns the peers; this module only decides when and to whom, and calls back.

import type { Rng } from '@agentmesh/scheduler';
import { CALM, type SimNetwork } from './network.js';
import type { VirtualScheduler } from './scheduler.js';
import type { FaultName } from './runner.js';

export interface FaultPlanContext {
  faults: ReadonlySet<FaultName>;
  /** Virtual time at which the fault phase ends. */
  faultEnd: number;
  rng: Rng;
  sched: VirtualScheduler;
  net: SimNetwork;
  ids: readonly string[];
  /** A partition starts: these directed links are blocked. */
  split(links: [string, string][]): void;
  /** The partition ends: every link is open again. */
  heal(): void;
  isUp(index: number): boolean;
  crash(index: number, tear: boolean): void;
  restart(index: number): void;
}

export function planFaults(c: FaultPlanContext): void {
  const { faults, faultEnd, rng, sched, net } = c;
  const base = { ...CALM };
  if (faults.has('delay')) base.minDelayMs = base.maxDelayMs = 20;
  if (faults.has('reorder')) base.maxDelayMs = base.minDelayMs + 50;
  net.faults = { ...base, drop: faults.has('drop') ? 0.05 : 0, duplicate: faults.has('duplicate') ? 0.05 : 0 };

  if (faults.has('partition')) {
    const finalSplitAt = Math.max(0, faultEnd - 1500);
    let t = rng.int(200, 1500);
    while (t < finalSplitAt) {
      const dur = rng.int(300, 4000);
      const links = partitionLinks(c.ids, rng);
      sched.at(t, () => c.split(links));
      sched.at(Math.min(t + dur, finalSplitAt), () => c.heal());
      t += dur + rng.int(200, 2500);
    }
    // The run always ends split in two halves, so the heal phase has diverged sides to merge.
    const halves = halvesLinks(c.ids, rng);
    sched.at(finalSplitAt, () => c.split(halves));
  }
  if (faults.has('crash')) {
    const n = c.ids.length;
    const downCount = () => c.ids.filter((_, i) => !c.isUp(i)).length;
    let t = rng.int(300, 2000);
    while (t < faultEnd - 600) {
      const victim = rng.int(0, n - 1);
      const downFor = rng.int(100, 3000);
      const tear = rng.chance(0.5);
      sched.at(t, () => {
        if (!c.isUp(victim) || downCount() >= Math.floor((n - 1) / 2)) return;
        c.crash(victim, tear);
        sched.at(downFor, () => {
          if (!c.isUp(victim)) c.restart(victim);
        });
      });
      t += rng.int(500, 4000);
    }
    // And with a peer down (torn disk tail half the time) that only the heal brings back.
    const last = rng.int(0, n - 1);
    const lastTear = rng.chance(0.5);
    sched.at(Math.max(0, faultEnd - 300), () => {
      if (c.isUp(last) && downCount() < Math.floor((n - 1) / 2)) c.crash(last, lastTear);
    });
  }
}

function halvesLinks(ids: readonly string[], rng: Rng): [string, string][] {
  const shuffled = rng.shuffle(ids);
  const cut = Math.max(1, Math.floor(ids.length / 2));
  const links: [string, string][] = [];
  for (const x of shuffled.slice(0, cut)) for (const y of shuffled.slice(cut)) links.push([x, y], [y, x]);
  return links;
}

/** Picks the links a partition blocks: one peer cut off, two halves, or a one-way (asymmetric) cut. */
function partitionLinks(ids: readonly string[], rng: Rng): [string, string][] {
  const kind = rng.pick(['isolate', 'halves', 'asymmetric'] as const);
  const shuffled = rng.shuffle(ids);
  const cut = kind === 'isolate' ? 1 : Math.max(1, Math.floor(ids.length / 2));
  const a = shuffled.slice(0, cut);
  const b = shuffled.slice(cut);
  const links: [string, string][] = [];
  for (const x of a) {
    for (const y of b) {
      links.push([x, y]);
      if (kind !== 'asymmetric') links.push([y, x]);
    }
  }
  return links;
}
