// The starved-mesh benchmark: exactly-once when the peers cannot get the CPU they need. Three real
// peer processes over libp2p on loopback take the 20,000-task scenario of the exactly-once CLI test
// (batches of 500 spread over the peers, several document generations while tasks still come in)
// while busy processes (`--hogs`) take the two cores from them. No fault is injected: every peer
// stays up and linked, so every duplicate run it counts is one DESIGN.md calls unjustified, unless
// a link went down (then the run says so). Many runs with the same load make a number one can
// compare between two versions of the code, which one starved run on its own does not.
// One line per run, a summary, and one JSON line at the end (with --json). Bounded: a fixed number
// of runs, each with a deadline; the hogs stop themselves past theirs.
// Run: npm run bench:starved [-- --runs N --hogs N --tasks N --keep DIR --json]

import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Mesh, setPeerNodeArgs, type PeerStatus } from './mesh.js';
import { log, sleep, spawnTracked, stopChild, until } from './procs.js';
import { readToolFlags } from './flags.js';
import { runTool } from './tool-main.js';

export interface StarvedOptions {
  runs: number;
  hogs: number;
  tasks: number;
  /** Where to copy the peers' data directories and stderr of a run with duplicate runs (undefined: nowhere). */
  keep: string | undefined;
  /** The peers' --log-level (their stderr is kept with their files). */
  logLevel: string;
  json: boolean;
  peerNodeArgs: string[];
}

export interface StarvedRun {
  run: number;
  seconds: number;
  /** Tasks done, as every replica counts them (the lowest of the peers). */
  done: number;
  /** Tasks run more than once, as the replicas count them (the highest of the peers). */
  duplicateRuns: number;
  /** Runs ended over all peers minus the tasks: runs no task needed. */
  extraRuns: number;
  /** Lease expiries the peers wrote (a holder taken for lost). */
  expiriesWritten: number;
  /** Tasks the peers restored from their archives (came back into the live document without their outcome), all peers together. */
  restores: number;
  /** The fewest peers any peer saw alive at any status poll of the run (3: no link went down). */
  fewestAlive: number;
  /** Document generations every replica reached. */
  generations: number;
  /** The slowest submit of a batch of 500 (ms): how starved the peers were. */
  slowestSubmitMs: number;
  /** Where the data directories were copied (only for a run with duplicate runs and --keep). */
  kept?: string;
}

const PER_BATCH = 500;
const BATCHES_AT_ONCE = 4;
const PEER_ARGS = ['--max-finished', '1000', '--max-tombstones', '10'];
const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

const HELP = `npm run bench:starved [-- flags]
  --runs N              runs, each on fresh peer processes (default 5)
  --hogs N              busy processes next to the peers, each taking a core (default 2)
  --tasks N             no-op tasks per run, a multiple of ${PER_BATCH} (default 20000)
  --keep DIR            copy the peers' data directories and stderr of a run with duplicate runs to DIR/run-N
  --log-level LEVEL     the peers' log level: error, warn (default), info or debug
  --peer-node-args "A"  extra node flags for every peer, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --json                also print one JSON line with every run (last line of stdout)`;

export function parseStarvedArgs(argv: string[]): StarvedOptions | 'help' {
  const o: StarvedOptions = { runs: 5, hogs: 2, tasks: 20_000, keep: undefined, logLevel: 'warn', json: false, peerNodeArgs: [] };
  return readToolFlags(argv, o, (a, f) => {
    if (a === '--runs') o.runs = f.int(1, 100);
    else if (a === '--hogs') o.hogs = f.int(0, 16);
    else if (a === '--tasks') {
      o.tasks = f.int(PER_BATCH, 1_000_000);
      if (o.tasks % PER_BATCH !== 0) throw new Error(`--tasks must be a multiple of ${PER_BATCH}, got ${o.tasks}`);
    } else if (a === '--keep') o.keep = f.value();
    else if (a === '--log-level') {
      o.logLevel = f.value();
      if (!LOG_LEVELS.includes(o.logLevel)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(o.logLevel)}`);
    }
    else return false;
    return true;
  });
}

/** A busy process: spins until killed, or past `seconds` by itself. */
function startHog(seconds: number): ChildProcess {
  const code = `const end = Date.now() + ${seconds * 1000}; let x = 0; while (Date.now() < end) x++;`;
  return spawnTracked(process.execPath, ['-e', code], { stdio: 'ignore' });
}

type Status = PeerStatus & { generation: { n: number }; self: { counters: { done: number; failed: number; aborted: number; expiriesWritten?: number; restores?: number } } };

/** One run: fresh peers, the hogs started, the batches submitted, every replica waited on to show every task done. */
async function runOnce(o: StarvedOptions, run: number): Promise<StarvedRun> {
  const deadlineMs = 120_000 + o.tasks * 20;
  const mesh = await Mesh.start(`starved${run}`, { capacities: [2000, 2000, 2000], concurrency: 100, agents: ['echo'], peerArgs: PEER_ARGS, logLevel: o.logLevel, stderrFiles: o.keep !== undefined });
  const hogs = Array.from({ length: o.hogs }, () => startHog(deadlineMs / 1000 + 60));
  let fewestAlive = mesh.peers.length;
  const poll = async (): Promise<Status[]> => {
    const s = (await mesh.statuses(60_000)) as Status[];
    for (const x of s) fewestAlive = Math.min(fewestAlive, x.peers.filter((p) => p.alive).length);
    return s;
  };
  try {
    const t0 = Date.now();
    let slowestSubmitMs = 0;
    const batches = o.tasks / PER_BATCH;
    for (let b = 0; b < batches; b += BATCHES_AT_ONCE) {
      if (b > 0) await sleep(700);
      await poll();
      await Promise.all(
        Array.from({ length: Math.min(BATCHES_AT_ONCE, batches - b) }, (_, k) => b + k).map(async (i) => {
          const s0 = Date.now();
          await mesh.post(i % mesh.peers.length, '/api/tasks', { type: 'echo', payload: { b: i }, count: PER_BATCH }, deadlineMs);
          slowestSubmitMs = Math.max(slowestSubmitMs, Date.now() - s0);
        }),
      );
    }
    const s = await until(
      `every replica to show ${o.tasks} tasks done`,
      async () => {
        const all = await poll();
        return all.every((x) => (x.tasks.done ?? 0) === o.tasks && (x.tasks.running ?? 0) === 0) && all;
      },
      deadlineMs,
      250,
    );
    const seconds = (Date.now() - t0) / 1000;
    const ended = s.reduce((sum, x) => sum + x.self.counters.done + x.self.counters.failed + x.self.counters.aborted, 0);
    const result: StarvedRun = {
      run,
      seconds: Math.round(seconds * 10) / 10,
      done: Math.min(...s.map((x) => x.tasks.done ?? 0)),
      duplicateRuns: Math.max(...s.map((x) => x.duplicateRuns)),
      extraRuns: ended - o.tasks,
      expiriesWritten: s.reduce((sum, x) => sum + (x.self.counters.expiriesWritten ?? 0), 0),
      restores: s.reduce((sum, x) => sum + (x.self.counters.restores ?? 0), 0),
      fewestAlive,
      generations: Math.min(...s.map((x) => x.generation.n)),
      slowestSubmitMs,
    };
    for (const h of hogs) h.kill('SIGKILL');
    if (o.keep !== undefined && (result.duplicateRuns > 0 || result.extraRuns > 0)) {
      // Stopped first, so the copy is of closed files.
      await Promise.all(mesh.peers.map((p) => stopChild(p.child, 10_000)));
      result.kept = join(o.keep, `run-${run}`);
      mkdirSync(o.keep, { recursive: true });
      cpSync(mesh.dir, result.kept, { recursive: true });
    }
    return result;
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
    await mesh.stop();
  }
}

function line(r: StarvedRun): string {
  const links = r.fewestAlive < 3 ? `, a link went down (fewest peers seen alive: ${r.fewestAlive})` : '';
  const kept = r.kept ? `, files kept in ${r.kept}` : '';
  return `run ${r.run}: ${r.done} done in ${r.seconds} s, generation ${r.generations}; duplicate runs ${r.duplicateRuns}, extra runs ${r.extraRuns}, lease expiries ${r.expiriesWritten}, tasks restored ${r.restores}, slowest submit ${r.slowestSubmitMs} ms${links}${kept}`;
}

const busy = (n: number) => `${n} busy process${n === 1 ? '' : 'es'}`;

async function run(o: StarvedOptions): Promise<void> {
  setPeerNodeArgs(o.peerNodeArgs);
  const runs: StarvedRun[] = [];
  for (let i = 1; i <= o.runs; i++) {
    log(`starved: run ${i}/${o.runs}, ${o.tasks} tasks on 3 peers next to ${busy(o.hogs)}`);
    const r = await runOnce(o, i);
    runs.push(r);
    process.stdout.write(`${line(r)}\n`);
  }
  const total = (k: 'duplicateRuns' | 'extraRuns' | 'expiriesWritten' | 'restores') => runs.reduce((s, r) => s + r[k], 0);
  const linked = runs.filter((r) => r.fewestAlive === 3);
  const linkedDups = linked.reduce((s, r) => s + r.duplicateRuns, 0);
  process.stdout.write(
    `${runs.length} runs next to ${busy(o.hogs)}: duplicate runs ${total('duplicateRuns')} (${linkedDups} in the ${linked.length} runs where no link went down), extra runs ${total('extraRuns')}, lease expiries ${total('expiriesWritten')}, tasks restored ${total('restores')}\n`,
  );
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ hogs: o.hogs, tasks: o.tasks, duplicateRuns: total('duplicateRuns'), duplicateRunsLinked: linkedDups, extraRuns: total('extraRuns'), expiriesWritten: total('expiriesWritten'), restores: total('restores'), runs })}\n`);
  }
}

runTool(import.meta.url, { name: 'bench:starved', help: HELP, parse: parseStarvedArgs, run });
