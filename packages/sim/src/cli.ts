#!/usr/bin/env node
// `pnpm sim`: runs one seed, a range of seeds (in worker threads), or the brief's worked case.
// With --json the last line of stdout is one JSON object; failures always print the seed and
// the command that reproduces them on stderr.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parseArgs, reproduceCommand, UsageError, USAGE, type SimArgs } from './args.js';
import { runSimulation, type SimConfig, type SimResult } from './runner.js';
import { runWorkedCase } from './worked-case.js';
import { summaryLine, publicJson } from './report.js';

function configOf(a: SimArgs, seed: number): SimConfig {
  return { seed, peers: a.peers, tasks: a.tasks, steps: a.steps, stepMs: a.stepMs, faults: a.faults, healBudget: a.healBudget };
}

async function runRange(a: SimArgs, from: number, to: number): Promise<SimResult[]> {
  const seeds = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const jobs = Math.max(1, Math.min(a.jobs || availableParallelism(), seeds.length));
  const results: SimResult[] = [];
  let next = 0;
  let finished = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: jobs }, () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(new URL('./worker.js', import.meta.url));
        const feed = () => {
          if (next >= seeds.length) {
            void w.terminate().then(() => resolve());
            return;
          }
          w.postMessage(configOf(a, seeds[next++]!));
        };
        w.on('message', (r: SimResult) => {
          results.push(r);
          finished++;
          if (!r.ok) process.stderr.write(`FAIL seed=${r.seed}: ${r.problems.join('; ')}\n  reproduce: ${reproduceCommand(a, r.seed)}\n`);
          if (finished % 50 === 0 || finished === seeds.length) {
            process.stderr.write(`sim: ${finished}/${seeds.length} seeds, ${results.filter((x) => !x.ok).length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
          }
          feed();
        });
        w.on('error', reject);
        feed();
      }),
    ),
  );
  return results.sort((x, y) => x.seed - y.seed);
}

async function main(argv: string[]): Promise<number> {
  let a: SimArgs;
  try {
    a = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sim: ${e.message}\nRun with --help for usage.\n`);
      return 2;
    }
    throw e;
  }
  if (a.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const t0 = Date.now();
  if (a.workedCase) {
    const w = await runWorkedCase({ seed: a.seed, seconds: a.seconds });
    const within = w.shares.every((s, i) => Math.abs(s - w.modelShares[i]!) <= 0.03);
    if (a.json) {
      process.stdout.write(JSON.stringify({ workedCase: true, ...w, sharesWithin3Points: within }) + '\n');
    } else {
      process.stdout.write(
        [
          `Worked case (seed ${w.seed}, ${w.seconds} s measured after warm-up):`,
          `  T measured ${w.measuredT.toFixed(2)} tasks/s   model T = ${w.modelT}`,
          `  D measured ${w.measuredD.toFixed(2)} items/s   model D = ${w.modelD}`,
          ...w.perPeer.map((p, i) => `  ${p.name}: capacity ${p.capacity}/s -> ${p.tasksPerSec.toFixed(2)} tasks/s, ${p.dataPerSec.toFixed(2)} items/s, share ${(w.shares[i]! * 100).toFixed(1)}% (model ${(w.modelShares[i]! * 100).toFixed(1)}%)`),
          `  shares within 3 points of the model: ${within ? 'yes' : 'NO'}`,
        ].join('\n') + '\n',
      );
    }
    process.stderr.write(`sim: worked case took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return within ? 0 : 1;
  }
  if (a.seedRange) {
    const [from, to] = a.seedRange;
    const results = await runRange(a, from, to);
    const failed = results.filter((r) => !r.ok).map((r) => r.seed);
    const sum = (k: 'duplicateRuns' | 'completed' | 'dead' | 'lostTasks' | 'lostData' | 'tasksWithoutOneWinner') => results.reduce((acc, r) => acc + r[k], 0);
    const summary = {
      seeds: `${from}..${to}`,
      runs: results.length,
      failed,
      duplicateRuns: sum('duplicateRuns'),
      completed: sum('completed'),
      dead: sum('dead'),
      lostTasks: sum('lostTasks'),
      lostData: sum('lostData'),
      tasksWithoutOneWinner: sum('tasksWithoutOneWinner'),
      maxHealSteps: Math.max(0, ...results.map((r) => r.healSteps)),
      ok: failed.length === 0,
    };
    if (a.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      process.stdout.write(`${results.length} seeds (${from}..${to}): ${failed.length} failed${failed.length ? ': ' + failed.join(', ') : ''}\n`);
      process.stdout.write(`  duplicate runs ${summary.duplicateRuns}, completed ${summary.completed}, dead ${summary.dead}, lost tasks ${summary.lostTasks}, lost data ${summary.lostData}, split winners ${summary.tasksWithoutOneWinner}, max heal steps ${summary.maxHealSteps}\n`);
      for (const s of failed.slice(0, 20)) process.stdout.write(`  reproduce: ${reproduceCommand(a, s)}\n`);
    }
    process.stderr.write(`sim: ${results.length} seeds in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return failed.length === 0 ? 0 : 1;
  }
  const r = await runSimulation(configOf(a, a.seed));
  if (!r.ok) process.stderr.write(`FAIL seed=${r.seed}: ${r.problems.join('; ')}\n  reproduce: ${reproduceCommand(a, r.seed)}\n`);
  process.stdout.write((a.json ? JSON.stringify(publicJson(r)) : summaryLine(r)) + '\n');
  process.stderr.write(`sim: seed ${r.seed} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return r.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`sim: crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
