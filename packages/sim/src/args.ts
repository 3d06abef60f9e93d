// Command-line parsing for `pnpm sim`, kept pure so it is unit-tested: every bad flag, seed or
// fault list becomes a UsageError with a clear message (the CLI prints it and exits 2).

import { FAULT_NAMES, DEFAULT_CONFIG, type FaultName } from './runner.js';
import { HEAL_BUDGET_FORMULA } from './heal-budget.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface SimArgs {
  help: boolean;
  json: boolean;
  workedCase: boolean;
  seed: number;
  seedRange: [number, number] | undefined;
  peers: number;
  tasks: number;
  steps: number;
  stepMs: number;
  /** Explicit --heal-budget; undefined: derived from peers and tasks (`defaultHealBudget`). */
  healBudget: number | undefined;
  faults: Set<FaultName>;
  jobs: number;
  seconds: number;
  /** An unjustified duplicate run fails the seed. */
  strictDuplicates: boolean;
  /** Sweeps (--seeds, soak): a seed running longer than this many wall-clock seconds fails; 0 = never. */
  seedTimeout: number;
  /** Sweeps: hand out no new seed after this many wall-clock minutes; 0 = no limit. */
  maxMinutes: number;
}

/** Seeds one sweep may cover, and the default per-seed wall-clock limit of a sweep. */
export const MAX_SEEDS = 1_000_000;
export const DEFAULT_SEED_TIMEOUT_S = 3600;

export const USAGE = `Usage: pnpm sim -- [options]

Runs N real agentmesh peers in one process over a simulated faulty network, driven by one seed,
then heals the network and checks that every replica converged with nothing lost.

Options:
  --peers N          peers in the mesh (1..64, default ${DEFAULT_CONFIG.peers})
  --tasks N          tasks submitted (0..100000, default ${DEFAULT_CONFIG.tasks})
  --steps N          steps of the fault phase (1..1000000, default ${DEFAULT_CONFIG.steps})
  --step-ms N        virtual milliseconds per step (1..1000, default ${DEFAULT_CONFIG.stepMs})
  --heal-budget N    steps the heal phase may take (default ${HEAL_BUDGET_FORMULA})
  --seed N           the seed (non-negative integer, default 1)
  --seeds A..B       run every seed from A to B and print the failing ones
  --jobs N           worker threads for --seeds (default: CPU count)
  --strict-duplicates  an unjustified duplicate run fails the seed (the default; see README: "justified")
  --lax-duplicates   count unjustified duplicate runs without failing the seed
  --seed-timeout S   with --seeds: a seed taking over S wall-clock seconds fails (default ${DEFAULT_SEED_TIMEOUT_S}; 0 = none)
  --max-minutes M    with --seeds: start no new seed after M minutes; the sweep then fails as
                     incomplete (default 0 = no limit)
  --faults LIST      comma list of ${FAULT_NAMES.join(',')}; or "all" or "none" (default all)
  --worked-case      run the brief's worked case (capacities 10/20/30, data 5/10/15 per s)
  --seconds N        measured seconds of the worked case (default 60)
  --json             print one JSON line (last line of stdout)
  -h, --help         this help

Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage.`;

function int(flag: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  if (!/^[0-9]+$/.test(v)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${v}`);
  return n;
}

export function parseFaults(v: string | undefined): Set<FaultName> {
  if (v === undefined || v.startsWith('--')) throw new UsageError('--faults needs a value');
  if (v === 'all') return new Set(FAULT_NAMES);
  if (v === 'none' || v === '') return new Set();
  const out = new Set<FaultName>();
  for (const f of v.split(',')) {
    const name = f.trim();
    if (!(FAULT_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown fault ${JSON.stringify(name)}; known: ${FAULT_NAMES.join(', ')}`);
    out.add(name as FaultName);
  }
  return out;
}

export function parseArgs(argv: readonly string[]): SimArgs {
  const args: SimArgs = {
    help: false,
    json: false,
    workedCase: false,
    seed: 1,
    seedRange: undefined,
    peers: DEFAULT_CONFIG.peers,
    tasks: DEFAULT_CONFIG.tasks,
    steps: DEFAULT_CONFIG.steps,
    stepMs: DEFAULT_CONFIG.stepMs,
    healBudget: undefined,
    faults: new Set(DEFAULT_CONFIG.faults),
    jobs: 0,
    seconds: 60,
    strictDuplicates: true,
    seedTimeout: DEFAULT_SEED_TIMEOUT_S,
    maxMinutes: 0,
  };
  const list = argv[0] === '--' ? argv.slice(1) : [...argv];
  for (let i = 0; i < list.length; i++) {
    const raw = list[i]!;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => (inline !== undefined ? inline : list[++i]);
    switch (flag) {
      case '-h':
      case '--help': args.help = true; break;
      case '--json': args.json = true; break;
      case '--worked-case': args.workedCase = true; break;
      case '--peers': args.peers = int(flag, value(), 1, 64); break;
      case '--tasks': args.tasks = int(flag, value(), 0, 100_000); break;
      case '--steps': args.steps = int(flag, value(), 1, 1_000_000); break;
      case '--step-ms': args.stepMs = int(flag, value(), 1, 1000); break;
      case '--heal-budget': args.healBudget = int(flag, value(), 1, 10_000_000); break;
      case '--seed': args.seed = int(flag, value(), 0, Number.MAX_SAFE_INTEGER); break;
      case '--jobs': args.jobs = int(flag, value(), 1, 256); break;
      case '--seconds': args.seconds = int(flag, value(), 1, 3600); break;
      case '--faults': args.faults = parseFaults(value()); break;
      case '--strict-duplicates': args.strictDuplicates = true; break;
      case '--lax-duplicates': args.strictDuplicates = false; break;
      case '--seed-timeout': args.seedTimeout = int(flag, value(), 0, 86_400); break;
      case '--max-minutes': args.maxMinutes = int(flag, value(), 0, 100_000); break;
      case '--seeds': {
        const v = value();
        const m = v === undefined ? null : /^([0-9]+)\.\.([0-9]+)$/.exec(v);
        if (!m) throw new UsageError(`--seeds must look like A..B (e.g. 1..100), got ${JSON.stringify(v)}`);
        const a = Number(m[1]);
        const b = Number(m[2]);
        if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a > b || b - a >= MAX_SEEDS) throw new UsageError(`--seeds range ${v} is empty or too large (at most ${MAX_SEEDS} seeds)`);
        args.seedRange = [a, b];
        break;
      }
      default:
        throw new UsageError(raw.startsWith('-') ? `unknown option ${raw}` : `unexpected argument ${JSON.stringify(raw)}`);
    }
  }
  return args;
}

/** The command that reproduces one run exactly. */
export function reproduceCommand(a: Pick<SimArgs, 'peers' | 'tasks' | 'steps' | 'stepMs' | 'healBudget' | 'faults'> & Partial<Pick<SimArgs, 'strictDuplicates'>>, seed: number): string {
  const faults = a.faults.size === 0 ? 'none' : [...a.faults].join(',');
  let cmd = `pnpm sim -- --peers ${a.peers} --tasks ${a.tasks} --steps ${a.steps} --seed ${seed} --faults ${faults}`;
  if (a.stepMs !== DEFAULT_CONFIG.stepMs) cmd += ` --step-ms ${a.stepMs}`;
  if (a.healBudget !== undefined) cmd += ` --heal-budget ${a.healBudget}`;
  if (a.strictDuplicates === false) cmd += ' --lax-duplicates';
  return cmd;
}
