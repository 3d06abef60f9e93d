// The idle benchmark: what a mesh costs when it has nothing to do. Real peer processes over libp2p
// on loopback run a small batch of no-op tasks to the end, settle, then sit idle while their CPU
// time is read from /proc over a few windows. It prints the cores the mesh uses (all peers) and per
// peer, per window, and one JSON line at the end (with --json) for scripts. Bounded: a fixed
// number of windows of fixed length per mesh size.
// Run: pnpm bench:idle [--peers 3,30] [--seconds 10] [--windows 3] [--settle 15] [--json]

import { Mesh, setPeerNodeArgs } from './mesh.js';
import { log, sleep, until } from './procs.js';
import { round } from './stats.js';
import { readToolFlags } from './flags.js';
import { runTool } from './tool-main.js';
import { AgentmeshSystem, processCpuMs } from './systems.js';

export interface IdleOptions {
  peers: number[];
  seconds: number;
  windows: number;
  settle: number;
  json: boolean;
  peerNodeArgs: string[];
}

export interface IdlePoint {
  peers: number;
  /** Cores the whole mesh used in each window (CPU seconds per second). */
  cores: number[];
  /** Mean over the windows, and the same per peer. */
  meanCores: number;
  perPeerCores: number;
}

const HELP = `pnpm bench:idle [-- flags]
  --peers A,B,...       mesh sizes, one mesh of fresh peer processes each (default 3,15)
  --seconds N           length of one measuring window (default 10)
  --windows N           windows per mesh size (default 3)
  --settle N            seconds between the warm-up batch and the first window (default 15)
  --peer-node-args "A"  extra node flags for every peer, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --json                also print one JSON line with every point (last line of stdout)`;

export function parseIdleArgs(argv: string[]): IdleOptions | 'help' {
  const o: IdleOptions = { peers: [3, 15], seconds: 10, windows: 3, settle: 15, json: false, peerNodeArgs: [] };
  return readToolFlags(argv, o, (a, f) => {
    if (a === '--peers') o.peers = f.value().split(',').map((n) => f.int(1, 30, n));
    else if (a === '--seconds') o.seconds = f.int(1, 600);
    else if (a === '--windows') o.windows = f.int(1, 100);
    else if (a === '--settle') o.settle = f.int(0, 600);
    else return false;
    return true;
  });
}

/** One mesh size on fresh peers: a warm-up batch run to the end, a settle, then the windows. */
async function runSize(o: IdleOptions, n: number): Promise<IdlePoint> {
  const mesh = await Mesh.start(`idle${n}`, { capacities: Array(n).fill(1_000_000), concurrency: 50, agents: ['echo'] });
  const sys = new AgentmeshSystem(mesh);
  try {
    const tp = await sys.throughput(100, 50, 60_000);
    if (tp.completed < tp.tasks) log(`idle: ${n} peers: only ${tp.completed} of ${tp.tasks} warm-up tasks done`);
    await until('every replica to show the warm-up done', async () => (await mesh.statuses()).every((s) => (s.tasks.done ?? 0) >= tp.completed), 60_000, 250);
    await sleep(o.settle * 1000);
    const cores: number[] = [];
    for (let w = 0; w < o.windows; w++) {
      const cpu0 = mesh.peers.map((p) => processCpuMs(p.child.pid));
      const t0 = Date.now();
      await sleep(o.seconds * 1000);
      const cpu1 = mesh.peers.map((p) => processCpuMs(p.child.pid));
      const used = cpu1.reduce<number>((s, c, i) => s + (c !== undefined && cpu0[i] !== undefined ? c - cpu0[i]! : NaN), 0);
      cores.push(round(used / (Date.now() - t0), 3));
      log(`idle: ${n} peers, window ${w + 1}/${o.windows}: ${cores.at(-1)} cores`);
    }
    const meanCores = round(cores.reduce((a, b) => a + b, 0) / cores.length, 3);
    return { peers: n, cores, meanCores, perPeerCores: round(meanCores / n, 4) };
  } finally {
    await mesh.stop();
  }
}

async function run(o: IdleOptions): Promise<void> {
  setPeerNodeArgs(o.peerNodeArgs);
  const points: IdlePoint[] = [];
  for (const n of o.peers) {
    log(`idle: ${n} peers, ${o.windows} windows of ${o.seconds} s after a ${o.settle} s settle`);
    const p = await runSize(o, n);
    points.push(p);
    process.stdout.write(`${p.peers} peers idle: ${p.meanCores} cores (${p.perPeerCores} per peer; windows ${p.cores.join(' / ')})\n`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ seconds: o.seconds, windows: o.windows, points })}\n`);
}

runTool(import.meta.url, { name: 'bench:idle', help: HELP, parse: parseIdleArgs, run });
