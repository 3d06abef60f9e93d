// Seeds 1..40 at the simulator CLI's own defaults (5 peers, 100 tasks, 1,500 steps, every fault,
// the default heal budget): what `pnpm sim -- --seeds A..B` runs when given nothing else. The CI
// sweeps (seeds-1/-2) use 4 peers and 40 tasks; this configuration found unjustified duplicate
// runs those never showed (seeds 19, 27 and 38, now fixed: seeds-regressions.test.ts). Seed 50
// still fails (docs/performance.md, "2026-12-02, morning"), so the CI share stops before it.
import { describe, it } from 'vitest';
import { expectSeedsPass } from './seed-range.js';

describe('simulator seeds 1..40 at the CLI defaults', () => {
  it('every seed passes every check', () => expectSeedsPass(1, 40, { peers: 5, tasks: 100, steps: 1500 }), 900_000);
});
