// Seeds 151..300 with every fault on (the CI share of the nightly run): each must converge
// with nothing lost, one canonical result per task, nothing stuck.
import { describe, expect, it } from 'vitest';
import { runSimulation, FAULT_NAMES } from '../src/index.js';

describe('simulator seeds 151..300', () => {
  it('every seed passes every check', async () => {
    const failed: string[] = [];
    let duplicates = 0;
    let completed = 0;
    for (let seed = 151; seed <= 300; seed++) {
      const r = await runSimulation({ seed, peers: 4, tasks: 40, steps: 800, stepMs: 10, faults: new Set(FAULT_NAMES), healBudget: 3000 });
      duplicates += r.duplicateRuns;
      completed += r.completed;
      if (!r.ok) failed.push(`seed ${seed}: ${r.problems.join('; ')} (reproduce: pnpm sim -- --peers 4 --tasks 40 --steps 800 --seed ${seed})`);
    }
    expect(failed).toEqual([]);
    expect(completed).toBeGreaterThan(150 * 40 * 0.8);
    console.log(`seeds 151..300: ${completed} tasks completed, ${duplicates} duplicate runs`);
  }, 600_000);
});
