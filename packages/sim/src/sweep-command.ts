// The command side of a sweep, shared by `pnpm sim -- --seeds A..B` and `npm run soak`: builds
// each seed's config from the parsed flags, reports progress and every failure on stderr (with
// the command that reproduces it), prints the summary (readable, or one JSON line with --json)
// and returns the exit code: 0 all passed, 1 a seed failed or the sweep did not finish, 130 on
// Ctrl-C. Wall-clock figures go to stderr only, except in the soak's summary (seeds/s).

import type { SimArgs } from './args.js';
import { reproduceCommand } from './args.js';
import type { SimConfig, SimResult } from './runner.js';
import { defaultHealBudget, HEAL_BUDGET_FORMULA } from './heal-budget.js';
import { causesText, runSweep, summarize, type SweepSummary } from './sweep.js';

export function configOf(a: SimArgs, seed: number): SimConfig {
  return {
    seed,
    peers: a.peers,
    tasks: a.tasks,
    steps: a.steps,
    stepMs: a.stepMs,
    faults: a.faults,
    healBudget: a.healBudget ?? defaultHealBudget(a.peers, a.tasks, a.stepMs),
    strictDuplicates: a.strictDuplicates,
  };
}

export interface SweepCommandOptions {
  /** Prefix of stderr lines. */
  name: string;
  /** Progress on stderr every this many wall ms (and at the end). */
  progressEveryMs: number;
  /** The summary includes wall time and seeds per second. */
  timing: boolean;
}

export async function sweepCommand(a: SimArgs, from: number, to: number, o: SweepCommandOptions): Promise<number> {
  const configs = Array.from({ length: to - from + 1 }, (_, i) => configOf(a, from + i));
  const total = configs.length;
  const t0 = Date.now();
  const abort = new AbortController();
  let sigints = 0;
  const onSigint = () => {
    if (++sigints > 1) process.exit(130);
    process.stderr.write(`${o.name}: interrupted, stopping (Ctrl-C again to quit at once)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  let failedSoFar = 0;
  let unjustifiedSoFar = 0;
  let doneSoFar = 0;
  const progress = (done: number) => {
    const s = (Date.now() - t0) / 1000;
    const rate = done / Math.max(s, 0.001);
    const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
    process.stderr.write(`${o.name}: ${done}/${total} seeds, ${failedSoFar} failed, ${unjustifiedSoFar} unjustified duplicates, ${s.toFixed(1)} s, ${rate.toFixed(2)} seeds/s, ~${eta} s left\n`);
  };
  // Progress on a timer, so a sweep of slow seeds still shows it is alive.
  const ticker = setInterval(() => progress(doneSoFar), o.progressEveryMs);
  ticker.unref();
  const outcome = await runSweep(configs, {
    jobs: a.jobs,
    seedTimeoutMs: a.seedTimeout * 1000,
    maxMs: a.maxMinutes * 60_000,
    signal: abort.signal,
    onResult: (r: SimResult, done: number) => {
      unjustifiedSoFar += r.duplicateCauses.unjustified;
      if (!r.ok) {
        failedSoFar++;
        process.stderr.write(`FAIL seed=${r.seed}: ${r.problems.join('; ')}\n  reproduce: ${reproduceCommand(a, r.seed)}\n`);
      }
      doneSoFar = done;
    },
  });
  clearInterval(ticker);
  progress(outcome.results.length);
  process.off('SIGINT', onSigint);
  const summary = summarize(from, to, outcome);
  const seconds = outcome.wallMs / 1000;
  const rate = outcome.results.length / Math.max(seconds, 0.001);
  if (a.json) {
    const timing = o.timing ? { seconds: Math.round(seconds * 10) / 10, seedsPerSecond: Math.round(rate * 100) / 100, jobs: outcome.jobs } : {};
    const { ok, ...rest } = summary;
    process.stdout.write(JSON.stringify({ ...rest, ...timing, interrupted: outcome.interrupted, ok }) + '\n');
  } else {
    process.stdout.write(summaryText(a, summary, outcome.results, o.timing ? { seconds, rate, jobs: outcome.jobs } : undefined) + '\n');
  }
  process.stderr.write(`${o.name}: ${outcome.results.length} seeds in ${seconds.toFixed(1)} s\n`);
  if (outcome.interrupted) return 130;
  return summary.ok ? 0 : 1;
}

function summaryText(a: SimArgs, s: SweepSummary, results: SimResult[], timing: { seconds: number; rate: number; jobs: number } | undefined): string {
  const faults = a.faults.size === 0 ? 'none' : a.faults.size === 7 ? 'all' : [...a.faults].join(',');
  const budget = a.healBudget !== undefined ? String(a.healBudget) : `${defaultHealBudget(a.peers, a.tasks, a.stepMs)} (${HEAL_BUDGET_FORMULA})`;
  const lines = [
    `${s.runs} seeds (${s.seeds}; ${a.peers} peers, ${a.tasks} tasks, ${a.steps} steps, faults ${faults}${a.strictDuplicates ? '' : ', lax duplicates'}): ${s.failed.length} failed${s.failed.length ? ': ' + s.failed.slice(0, 50).join(', ') + (s.failed.length > 50 ? ', ...' : '') : ''}`,
  ];
  if (s.notRun > 0) lines.push(`  NOT RUN: ${s.notRun} seeds (time limit or interrupted): the sweep is incomplete`);
  if (timing) lines.push(`  ${timing.rate.toFixed(2)} seeds/s (${timing.seconds.toFixed(1)} s, ${timing.jobs} worker threads)`);
  lines.push(
    `  duplicate runs ${s.duplicateRuns}, completed ${s.completed}, dead ${s.dead}, lost tasks ${s.lostTasks}, lost data ${s.lostData}, split winners ${s.tasksWithoutOneWinner}, wrong results ${s.wrongResults}, stuck ${s.stuck}, max heal steps ${s.maxHealSteps}${s.maxHealSeed !== undefined ? ` (seed ${s.maxHealSeed}; budget ${budget})` : ''}`,
    `  duplicate run starts ${s.duplicateCauses.partition + s.duplicateCauses.crash + s.duplicateCauses.unjustified} of ${s.runStarts} run starts: ${causesText(s.duplicateCauses, s.unjustifiedKinds, s.unjustifiedNearGeneration, s.runStarts, s.runStartsNearGeneration)}; ${s.seedsWithUnjustified} seeds with an unjustified one`,
  );
  const firstUnjustified = results.find((r) => r.unjustifiedExamples.length > 0);
  if (firstUnjustified) lines.push(`  e.g. seed ${firstUnjustified.seed}: ${firstUnjustified.unjustifiedExamples[0]}`);
  for (const r of results.filter((x) => !x.ok).slice(0, 20)) {
    lines.push(`  seed ${r.seed}: ${r.problems.slice(0, 3).join('; ')}`, `    reproduce: ${reproduceCommand(a, r.seed)}`);
  }
  return lines.join('\n');
}
