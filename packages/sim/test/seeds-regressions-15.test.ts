// Seeds that once failed the issue-12 sweeps with 15 peers, 1,000 tasks, all faults; every one
// must pass (no unjustified duplicate run start, converged, one outcome per task everywhere):
// - 5003: a holder gave back a round another peer had expired, but a third peer's expiry of the
//   same round, written concurrently, won the document's last-writer-wins on some replicas, which
//   then waited for the holder forever and dropped the round's winning run after the loser had
//   been aborted for it. The holder now writes its release again, after.
// - 5018: a peer that had archived a task deleted an activity batch naming it while the task was
//   live again on another replica, which lost its first run's outcome and archived the task with
//   another winner. Facts a live task loses that way are now written back (BoardChange.dropped).
import { describe } from 'vitest';
import { itPassesWithAllFaults } from './regression-seed.js';

describe('simulator regression seeds, all faults', () => {
  itPassesWithAllFaults(5003, 15, 1000);
  itPassesWithAllFaults(5018, 15, 1000);
});
