// Shared body of the regression-seed tests (split across files only so vitest runs them in
// parallel): one seed that once failed a sweep, all faults on, must pass every check with no
// unjustified duplicate run start.
import { expect, it } from 'vitest';
import { runSimulation, FAULT_NAMES } from '../src/index.js';

export function itPassesWithAllFaults(seed: number, peers: number, tasks: number): void {
  it(`seed ${seed} (${peers} peers, ${tasks} tasks) passes with no unjustified duplicate`, async () => {
    const r = await runSimulation({ seed, peers, tasks, steps: 1500, stepMs: 10, faults: new Set(FAULT_NAMES), strictDuplicates: true });
    expect(r.problems).toEqual([]);
    expect(r.duplicateCauses.unjustified).toBe(0);
    expect(r.ok).toBe(true);
  }, 300_000);
}
