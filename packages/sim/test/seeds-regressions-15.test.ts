// Seeds that once failed the issue-12 sweeps with 15 peers, 1,000 tasks, all faults; every one
// must pass (no unjustified duplicate run start, converged, one outcome per task everywhere):
// - 5003: a holder gave back a round another peer had expired, but a third peer's expiry of the
//   same round, written concurrently, won the document's last-writer-wins on some replicas, which
//   then waited for the holder forever and dropped the round's winning run after the loser had
//   been aborted for it. The holder now writes its release again, after.
// - 5018: a peer that had archived a task deleted an activity batch naming it while the task was
//   live again on another replica, which lost its first run's outcome and archived the task with
//   another winner. Facts a live task loses that way are now written back (BoardChange.dropped).
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../src/index.js';

const ALL = new Set(['partition', 'drop', 'duplicate', 'reorder', 'delay', 'crash', 'skew'] as const);

describe('simulator regression seeds, all faults', () => {
  for (const [seed, peers, tasks] of [[5003, 15, 1000], [5018, 15, 1000]] as const) {
    it(`seed ${seed} (${peers} peers, ${tasks} tasks) passes with no unjustified duplicate`, async () => {
      const r = await runSimulation({ seed, peers, tasks, steps: 1500, stepMs: 10, faults: ALL, strictDuplicates: true });
      expect(r.problems).toEqual([]);
      expect(r.duplicateCauses.unjustified).toBe(0);
      expect(r.ok).toBe(true);
    }, 300_000);
  }
});
