// Shared body of the seed-range tests (split across files only so vitest runs them in parallel):
// every seed of a range, all faults on, must pass every check. Duplicate runs are counted by cause,
// and an unjustified one fails its seed (SIM_LAX_DUPLICATES=1 only counts them). The mesh is the CI
// sweep's (4 peers, 40 tasks, 800 steps, heal budget 3,000) unless `mesh` says otherwise (the CLI's
// defaults leave the heal budget to the simulator).
import { expect } from 'vitest';
import { runSimulation, FAULT_NAMES } from '../src/index.js';

export interface SweepMesh {
  peers: number;
  tasks: number;
  steps: number;
  healBudget?: number;
}

export const CI_MESH: SweepMesh = { peers: 4, tasks: 40, steps: 800, healBudget: 3000 };

export async function expectSeedsPass(from: number, to: number, mesh: SweepMesh = CI_MESH): Promise<void> {
  const strictDuplicates = process.env.SIM_LAX_DUPLICATES !== '1';
  const failed: string[] = [];
  let duplicates = 0;
  let completed = 0;
  let exclusiveRuns = 0;
  const causes = { partition: 0, crash: 0, unjustified: 0 };
  const { peers, tasks, steps, healBudget } = mesh;
  const flags = `--peers ${peers} --tasks ${tasks} --steps ${steps}${healBudget === undefined ? '' : ` --heal-budget ${healBudget}`}${strictDuplicates ? '' : ' --lax-duplicates'}`;
  for (let seed = from; seed <= to; seed++) {
    const r = await runSimulation({ seed, peers, tasks, steps, stepMs: 10, faults: new Set(FAULT_NAMES), ...(healBudget === undefined ? {} : { healBudget }), strictDuplicates });
    duplicates += r.duplicateRuns;
    completed += r.completed;
    exclusiveRuns += r.exclusiveRuns;
    for (const k of ['partition', 'crash', 'unjustified'] as const) causes[k] += r.duplicateCauses[k];
    if (!r.ok) failed.push(`seed ${seed}: ${r.problems.join('; ')} (reproduce: pnpm sim -- ${flags} --seed ${seed})`);
  }
  expect(failed).toEqual([]);
  expect(completed).toBeGreaterThan((to - from + 1) * tasks * 0.75);
  expect(exclusiveRuns).toBeGreaterThan(0);
  console.log(`seeds ${from}..${to} (${peers} peers, ${tasks} tasks, ${steps} steps): ${completed} tasks completed, ${duplicates} duplicate runs; duplicate run starts by cause: partition ${causes.partition}, crash ${causes.crash}, unjustified ${causes.unjustified}; ${exclusiveRuns} exclusive run starts`);
}
