// The sustained-load benchmark: real peer processes over libp2p on loopback take a paced stream of
// no-op tasks (the bench's background load) for a while, and a probe measures submit-to-start of
// one task at a time meanwhile. It prints what a burst hides: the CPU per task once archival keeps
// up, and the latency at a rate the mesh is meant to sustain. One line per rate, and one JSON line
// at the end (with --json) for scripts. Every loop is bounded (--seconds, the probe's timeout).
// Run: pnpm bench:sustained [--rates 1000,2000] [--seconds N] [--peers N] [--log-slow MS] [--json]

import { Mesh, setPeerNodeArgs } from './mesh.js';
import { log, sleep } from './procs.js';
import { round, summary } from './stats.js';
import { readToolFlags } from './flags.js';
import { runTool } from './tool-main.js';
import { AgentmeshSystem, PROBE_LINES_ONLY, processCpuMs } from './systems.js';

export interface SustainedOptions {
  rates: number[];
  seconds: number;
  peers: number;
  /** Runs at once per peer (the peers' --concurrency). */
  concurrency: number;
  /** Log each probe slower than this many ms, with its peer and wall time (undefined: none). */
  logSlowMs: number | undefined;
  /** Pause between two probes, ms (a probe is one task submitted and waited for). */
  probeGapMs: number;
  json: boolean;
  peerNodeArgs: string[];
  /** Extra `agentmesh peer` flags for every peer (e.g. a retention that keeps archival out). */
  peerArgs: string[];
}

export interface SustainedPoint {
  rate: number;
  offered: number;
  done: number;
  seconds: number;
  throughput: number;
  cpuMsPerTask: number | null;
  probes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Sync messages each peer sent per second (mean over the peers; each goes to every other peer): how finely the load is cut. */
  messagesPerPeerSecond: number | null;
  /** Tasks done per sync message sent (all peers). */
  tasksPerMessage: number | null;
}

const HELP = `pnpm bench:sustained [-- flags]
  --rates A,B,...       offered tasks/s, one run of fresh peers per rate (default 1000,2000)
  --seconds N           seconds under load per rate (default 30; archival starts after 10,000 finished tasks)
  --peers N             peer processes (default 3)
  --concurrency N       runs at once per peer (default 50, as in npm run bench)
  --log-slow MS         log each probe slower than MS ms as it comes (its peer, its wall time)
  --probe-gap-ms N      pause between two latency probes (default 20)
  --peer-node-args "A"  extra node flags for every peer, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --peer-args "A"       extra agentmesh peer flags for every peer, e.g. "--max-finished 10000000"
  --json                also print one JSON line with every point (last line of stdout)`;

export function parseSustainedArgs(argv: string[]): SustainedOptions | 'help' {
  const o: SustainedOptions = { rates: [1000, 2000], seconds: 30, peers: 3, concurrency: 50, logSlowMs: undefined, probeGapMs: 20, json: false, peerNodeArgs: [], peerArgs: [] };
  return readToolFlags(argv, o, (a, f) => {
    if (a === '--rates') o.rates = f.value().split(',').map((r) => f.int(1, 100_000, r));
    else if (a === '--seconds') o.seconds = f.int(1, 3600);
    else if (a === '--peers') o.peers = f.int(1, 30);
    else if (a === '--concurrency') o.concurrency = f.int(1, 100_000);
    else if (a === '--log-slow') o.logSlowMs = f.int(0, 600_000);
    else if (a === '--probe-gap-ms') o.probeGapMs = f.int(0, 10_000);
    else if (a === '--peer-args') o.peerArgs = f.value().split(' ').filter(Boolean);
    else return false;
    return true;
  });
}

/** One rate on fresh peers: paced load for `seconds`, probes meanwhile, CPU of the peers from /proc. */
async function runRate(o: SustainedOptions, rate: number): Promise<SustainedPoint> {
  const mesh = await Mesh.start(`sus${rate}`, { capacities: Array(o.peers).fill(1_000_000), concurrency: o.concurrency, agents: ['echo', 'sleep'], peerArgs: [...PROBE_LINES_ONLY, ...o.peerArgs] });
  const sys = new AgentmeshSystem(mesh);
  try {
    const messagesSent = async () => (await mesh.statuses()).reduce((a, st) => a + st.sync.sentMessages, 0);
    // Done as the first peer counts it (live and archived): the peers print the probes' lines only.
    const doneSoFar = async () => (await mesh.status(0)).tasks.done ?? 0;
    const sent0 = await messagesSent();
    const cpu0 = mesh.peers.map((p) => processCpuMs(p.child.pid));
    const done0 = await doneSoFar();
    const stop = sys.startLoad(rate);
    const lat: number[] = [];
    const end = Date.now() + o.seconds * 1000;
    try {
      for (let k = 0; Date.now() < end; k++) {
        const t0 = Date.now();
        const ms = await sys.sample(k);
        lat.push(ms);
        if (o.logSlowMs !== undefined && ms > o.logSlowMs) log(`probe ${k} to ${mesh.peerFor(k).name} at ${new Date(t0).toISOString()} (${t0}) took ${ms} ms`);
        if (o.probeGapMs > 0) await sleep(o.probeGapMs);
      }
    } catch (e) {
      log(`sustained ${rate}/s: probes stopped after ${lat.length}: ${(e as Error).message}`);
    }
    const offered = await stop();
    const done = (await doneSoFar()) - done0;
    const cpu1 = mesh.peers.map((p) => processCpuMs(p.child.pid));
    const sent = (await messagesSent()) - sent0;
    const used = cpu1.reduce<number>((s, c, i) => s + (c !== undefined && cpu0[i] !== undefined ? c - cpu0[i]! : NaN), 0);
    const s = summary(lat);
    return {
      rate,
      offered: round(offered.submitted / offered.seconds, 1),
      done,
      seconds: round(offered.seconds, 1),
      throughput: round(done / offered.seconds, 1),
      cpuMsPerTask: Number.isFinite(used) && done > 0 ? round(used / done, 3) : null,
      probes: s.n,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      maxMs: s.maxMs,
      messagesPerPeerSecond: offered.seconds > 0 ? round(sent / o.peers / offered.seconds, 1) : null,
      tasksPerMessage: sent > 0 ? round(done / sent, 2) : null,
    };
  } finally {
    await mesh.stop();
  }
}

async function run(o: SustainedOptions): Promise<void> {
  setPeerNodeArgs(o.peerNodeArgs);
  const points: SustainedPoint[] = [];
  for (const rate of o.rates) {
    log(`sustained: ${o.peers} peers, ${rate} tasks/s offered for ${o.seconds} s`);
    const p = await runRate(o, rate);
    points.push(p);
    process.stdout.write(
      `offered ${p.offered}/s: done ${p.throughput}/s, CPU ${p.cpuMsPerTask ?? '–'} ms per task (all peers), submit-to-start p50 ${p.p50Ms} / p99 ${p.p99Ms} / max ${p.maxMs} ms (${p.probes} probes); ${p.messagesPerPeerSecond ?? '–'} sync messages sent per peer per s, ${p.tasksPerMessage ?? '–'} tasks per message\n`,
    );
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ peers: o.peers, seconds: o.seconds, points })}\n`);
}

runTool(import.meta.url, { name: 'bench:sustained', help: HELP, parse: parseSustainedArgs, run });
