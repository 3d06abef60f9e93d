// Sweeps: every seed of a range, one configuration, in worker threads (`pnpm sim -- --seeds A..B`
// and `npm run soak`). Bounded by construction: the range is finite, a seed that runs past its
// wall-clock limit is stopped (its worker terminated) and fails, an optional time limit stops
// handing out seeds, and an abort signal (Ctrl-C) stops everything at once. The summary adds up
// what every seed found: failures with their reproduce commands, duplicate runs by cause, losses.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SimConfig, SimResult } from './runner.js';
import { emptyCauses, emptyKinds, type DuplicateCauses, type UnjustifiedKinds } from './duplicates.js';

export interface SweepOptions {
  /** Worker threads (0: one per CPU). */
  jobs: number;
  /** A seed running longer than this (wall ms) fails and its worker is replaced; 0 = no limit. */
  seedTimeoutMs: number;
  /** Hand out no new seed after this many wall ms; 0 = no limit. */
  maxMs: number;
  /** Stops the sweep: running seeds are abandoned (not counted), no new seed starts. */
  signal?: AbortSignal;
  /** Called after each seed, in completion order. */
  onResult?: (r: SimResult, done: number) => void;
}

export interface SweepOutcome {
  results: SimResult[];
  /** Seeds never run (time limit or abort). */
  notRun: number;
  interrupted: boolean;
  wallMs: number;
  jobs: number;
}

/** A run that produced no result (its worker crashed or it timed out), shaped like a failed one. */
export function failedResult(config: SimConfig, problem: string): SimResult {
  const z = { lostTasks: 0, lostData: 0, tasksWithoutOneWinner: 0, duplicateRuns: 0, completed: 0, dead: 0, stuck: 0, wrongResults: 0 };
  return {
    ...z,
    seed: config.seed,
    peers: config.peers,
    tasks: config.tasks,
    steps: config.steps,
    converged: false,
    healSteps: 0,
    crashes: 0,
    generations: 0,
    archived: 0,
    generationMovesInPartition: 0,
    partitions: 0,
    exclusiveTasks: 0,
    exclusiveRuns: 0,
    exclusiveViolations: 0,
    runStarts: 0,
    duplicateCauses: emptyCauses(),
    unjustifiedKinds: emptyKinds(),
    unjustifiedNearGeneration: 0,
    runStartsNearGeneration: 0,
    unjustifiedExamples: [],
    healBudget: config.healBudget ?? 0,
    messages: { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytes: 0 },
    problems: [problem],
    ok: false,
  };
}

type Answer = { kind: 'result'; r: SimResult } | { kind: 'broken'; problem: string } | { kind: 'aborted' };

/** Runs one config on a worker; resolves with its result, a problem (timeout, worker died) or an abort. */
function runOn(w: Worker, config: SimConfig, timeoutMs: number, signal: AbortSignal | undefined): Promise<Answer> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (a: Answer) => {
      if (timer) clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
      resolve(a);
    };
    const onMessage = (r: SimResult) => done({ kind: 'result', r });
    const onError = (e: Error) => done({ kind: 'broken', problem: `worker crashed: ${e.stack ?? e.message}` });
    const onExit = (code: number) => done({ kind: 'broken', problem: `worker exited with code ${code}` });
    const onAbort = () => done({ kind: 'aborted' });
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    if (signal?.aborted) return done({ kind: 'aborted' });
    signal?.addEventListener('abort', onAbort);
    if (timeoutMs > 0) timer = setTimeout(() => done({ kind: 'broken', problem: `timed out after ${Math.round(timeoutMs / 1000)} s of wall-clock time` }), timeoutMs);
    w.postMessage(config);
  });
}

export async function runSweep(configs: readonly SimConfig[], opts: SweepOptions): Promise<SweepOutcome> {
  const started = Date.now();
  const jobs = Math.max(1, Math.min(opts.jobs || availableParallelism(), configs.length));
  const results: SimResult[] = [];
  let next = 0;
  let interrupted = false;
  const spawn = () => new Worker(new URL('./worker.js', import.meta.url));
  const slot = async () => {
    let w = spawn();
    try {
      for (;;) {
        if (opts.signal?.aborted) {
          interrupted = true;
          return;
        }
        if (next >= configs.length || (opts.maxMs > 0 && Date.now() - started >= opts.maxMs)) return;
        const config = configs[next++]!;
        const a = await runOn(w, config, opts.seedTimeoutMs, opts.signal);
        if (a.kind === 'aborted') {
          interrupted = true; // the seed it was running counts as not run
          return;
        }
        let r: SimResult;
        if (a.kind === 'result') r = a.r;
        else {
          r = failedResult(config, a.problem);
          await w.terminate();
          w = spawn();
        }
        results.push(r);
        opts.onResult?.(r, results.length);
      }
    } finally {
      await w.terminate();
    }
  };
  await Promise.all(Array.from({ length: jobs }, slot));
  results.sort((x, y) => x.seed - y.seed);
  return { results, notRun: configs.length - results.length, interrupted, wallMs: Date.now() - started, jobs };
}

export interface SweepSummary {
  seeds: string;
  runs: number;
  failed: number[];
  duplicateRuns: number;
  completed: number;
  dead: number;
  lostTasks: number;
  lostData: number;
  tasksWithoutOneWinner: number;
  maxHealSteps: number;
  wrongResults: number;
  stuck: number;
  notRun: number;
  runStarts: number;
  duplicateCauses: DuplicateCauses;
  unjustifiedKinds: UnjustifiedKinds;
  unjustifiedNearGeneration: number;
  runStartsNearGeneration: number;
  /** Seeds with at least one unjustified duplicate run. */
  seedsWithUnjustified: number;
  maxHealSeed: number | undefined;
  ok: boolean;
}

export function summarize(from: number, to: number, o: SweepOutcome): SweepSummary {
  const rs = o.results;
  const sum = (f: (r: SimResult) => number) => rs.reduce((acc, r) => acc + f(r), 0);
  const causes = emptyCauses();
  const kinds = emptyKinds();
  for (const r of rs) {
    for (const k of Object.keys(causes) as (keyof DuplicateCauses)[]) causes[k] += r.duplicateCauses[k];
    for (const k of Object.keys(kinds) as (keyof UnjustifiedKinds)[]) kinds[k] += r.unjustifiedKinds[k];
  }
  const slowest = rs.reduce<SimResult | undefined>((m, r) => (!m || r.healSteps > m.healSteps ? r : m), undefined);
  const failed = rs.filter((r) => !r.ok).map((r) => r.seed);
  return {
    seeds: `${from}..${to}`,
    runs: rs.length,
    failed,
    duplicateRuns: sum((r) => r.duplicateRuns),
    completed: sum((r) => r.completed),
    dead: sum((r) => r.dead),
    lostTasks: sum((r) => r.lostTasks),
    lostData: sum((r) => r.lostData),
    tasksWithoutOneWinner: sum((r) => r.tasksWithoutOneWinner),
    maxHealSteps: slowest?.healSteps ?? 0,
    wrongResults: sum((r) => r.wrongResults),
    stuck: sum((r) => r.stuck),
    notRun: o.notRun,
    runStarts: sum((r) => r.runStarts),
    duplicateCauses: causes,
    unjustifiedKinds: kinds,
    unjustifiedNearGeneration: sum((r) => r.unjustifiedNearGeneration),
    runStartsNearGeneration: sum((r) => r.runStartsNearGeneration),
    seedsWithUnjustified: rs.filter((r) => r.duplicateCauses.unjustified > 0).length,
    maxHealSeed: slowest?.seed,
    ok: failed.length === 0 && o.notRun === 0,
  };
}

/** "partition 3, crash 1, unjustified 4 (same-round 3, stale-round 1; 3 within 1 s after a generation change, as were 40% of all run starts)". */
export function causesText(c: DuplicateCauses, k: UnjustifiedKinds, nearGeneration: number, starts: number, startsNearGeneration: number): string {
  const kinds = (Object.entries(k) as [string, number][]).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n}`);
  const base = starts > 0 ? `, as were ${Math.round((100 * startsNearGeneration) / starts)}% of all run starts` : '';
  const detail = c.unjustified > 0 ? ` (${kinds.join(', ')}; ${nearGeneration} within 1 s after a generation change${base})` : '';
  return `partition ${c.partition}, crash ${c.crash}, unjustified ${c.unjustified}${detail}`;
}
