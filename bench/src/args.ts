// Why: every size of the bench is a flag, so a smoke run (--quick) and the full run share code.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PHASES = ['throughput', 'latency', 'worked', 'heal', 'scale'] as const;
export type Phase = (typeof PHASES)[number];

export interface Config {
  quick: boolean;
  only: Set<Phase>;
  bullmq: boolean;
  tasks: number;
  batch: number;
  latencySamples: number;
  loadedSamples: number;
  workedSeconds: number;
  workedWarmupSeconds: number;
  healPeers: number;
  healTasks: number;
  scalePeers: number[];
  scaleTasks: number;
  scaleSamples: number;
  peerConcurrency: number;
  bullWorkers: number;
  bullConcurrency: number;
  outDir: string;
  peerNodeArgs: string[];
  /** Log every latency sample slower than this (ms), with when it came: where the tail is. */
  logSlowMs: number | undefined;
}

const HELP = `pnpm bench [-- flags]
  --quick                 small smoke sizes (200 tasks, 50 latency samples, 3-peer scale, 2+2 heal)
  --only a,b              phases: ${PHASES.join(',')}
  --no-bullmq             skip Redis/BullMQ (agentmesh parts only)
  --tasks N               throughput tasks (20000)
  --batch N               tasks per submit call (500)
  --latency-samples N     unloaded samples per system (1000)
  --loaded-samples N      samples under 50% load per system (1000)
  --worked-seconds N      worked-case measured window (60)
  --heal-peers N          peers in the heal phase, split in halves (6)
  --heal-tasks N          tasks per half in the heal phase (5000)
  --scale 3,5,9,15,30     mesh sizes for the scale phase
  --scale-tasks N         tasks per scale point (5000)
  --scale-samples N       latency samples per scale point (100)
  --out DIR               results dir (default bench/results for a full run with no other flag;
                          bench/results/partial once any other flag is given, so that
                          bench/results/latest.* only ever holds a full, default run)
  --peer-node-args "A B"  extra node flags for every peer process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --log-slow MS           log each latency sample slower than MS ms as it comes (where the p99 is made)`;

export function parseArgs(argv: string[]): Config {
  const quick = argv.includes('--quick');
  const here = join(fileURLToPath(new URL('.', import.meta.url)), '..');
  const c: Config = {
    quick,
    only: new Set(PHASES),
    bullmq: true,
    tasks: quick ? 200 : 20_000,
    batch: quick ? 50 : 500,
    latencySamples: quick ? 50 : 1000,
    loadedSamples: quick ? 50 : 1000,
    workedSeconds: quick ? 4 : 60,
    workedWarmupSeconds: quick ? 2 : 5,
    healPeers: quick ? 4 : 6,
    healTasks: quick ? 50 : 5000,
    scalePeers: quick ? [3] : [3, 5, 9, 15, 30],
    scaleTasks: quick ? 200 : 5000,
    scaleSamples: quick ? 20 : 100,
    peerConcurrency: 50,
    bullWorkers: 3,
    bullConcurrency: 50,
    outDir: join(here, 'results'),
    peerNodeArgs: [],
    logSlowMs: undefined,
  };
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    switch (a) {
      case '--quick':
        break;
      case '--help':
      case '-h':
        process.stdout.write(HELP + '\n');
        process.exit(0);
      case '--no-bullmq':
        c.bullmq = false;
        break;
      case '--only': {
        const list = (v ?? '').split(',').filter(Boolean);
        for (const p of list) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${p} (${PHASES.join(',')})`);
        c.only = new Set(list as Phase[]);
        i++;
        break;
      }
      case '--scale':
        c.scalePeers = (v ?? '').split(',').map((x) => int('--scale', x));
        i++;
        break;
      case '--peer-node-args':
        c.peerNodeArgs = (v ?? '').split(' ').filter(Boolean);
        i++;
        break;
      case '--out':
        c.outDir = v ?? c.outDir;
        i++;
        break;
      case '--': break;
      default: {
        const key = ({
          '--tasks': 'tasks', '--batch': 'batch', '--latency-samples': 'latencySamples', '--loaded-samples': 'loadedSamples',
          '--worked-seconds': 'workedSeconds', '--heal-peers': 'healPeers', '--heal-tasks': 'healTasks',
          '--scale-tasks': 'scaleTasks', '--scale-samples': 'scaleSamples', '--log-slow': 'logSlowMs',
        } as Record<string, keyof Config>)[a];
        if (!key) throw new Error(`unknown flag ${a}\n${HELP}`);
        (c as unknown as Record<string, number>)[key] = int(a, v);
        i++;
      }
    }
  }
  if (c.healPeers < 2) throw new Error('--heal-peers needs at least 2');
  // A run narrowed or changed by any flag (a phase, sizes, no BullMQ, a profiler) is not the
  // benchmark's result: without --out it goes to results/partial, never over results/latest.*.
  const outGiven = argv.includes('--out');
  const partial = argv.some((a, i) => a.startsWith('--') && a !== '--' && a !== '--out' && argv[i - 1] !== '--out' && argv[i - 1] !== '--peer-node-args');
  if (!outGiven && partial) c.outDir = join(here, 'results', 'partial');
  return c;
}
