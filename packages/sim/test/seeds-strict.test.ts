// Seeds 1..40, 7 peers, every fault but partitions and crashes (drop, reorder, delay, duplicate,
// skew), with strict duplicates: here no duplicate run is ever justified, so any duplicate run
// start fails its seed (issue 12: 0 duplicate runs over seeds 1..300 for 7 and 15 peers; the long
// sweeps are `npm run soak`, this is their CI share).
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../src/index.js';

describe('simulator seeds 1..40, 7 peers, no partitions or crashes, strict duplicates', () => {
  it('no seed has any duplicate run start', async () => {
    const failed: string[] = [];
    let starts = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const r = await runSimulation({ seed, peers: 7, tasks: 100, steps: 1500, stepMs: 10, faults: new Set(['drop', 'reorder', 'delay', 'duplicate', 'skew'] as const), strictDuplicates: true });
      starts += r.runStarts;
      const d = r.duplicateCauses;
      if (!r.ok || d.partition + d.crash + d.unjustified > 0) failed.push(`seed ${seed}: ${r.problems.join('; ') || JSON.stringify(d)}`);
    }
    expect(failed).toEqual([]);
    expect(starts).toBeGreaterThan(40 * 100 * 0.9);
  }, 600_000);
});
