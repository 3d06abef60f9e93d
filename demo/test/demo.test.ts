// The demo's worked case: shares follow capacities 10/20/30 and T approaches the model's 60 tasks/s.
import { describe, expect, it } from 'vitest';
import { runWorkedCase } from '@agentmesh/sim';

describe('demo worked case', () => {
  it('splits work close to 1:2:3 and reaches close to T = 60 and D = 30', async () => {
    const w = await runWorkedCase({ seed: 3, seconds: 20 });
    w.shares.forEach((s, i) => expect(Math.abs(s - w.modelShares[i]!)).toBeLessThanOrEqual(0.03));
    expect(w.measuredT).toBeGreaterThan(57);
    expect(w.measuredT).toBeLessThanOrEqual(60.5);
    expect(w.measuredD).toBeGreaterThan(28.5);
  });
});
