// Seeds that once failed the issue-12 sweeps (all faults), each for a cause
// of its own; every one must pass (no unjustified duplicate run start, converged, nothing lost):
// - 5014: a task submitted twice under one idempotency key (through a peer that crashed right after
//   writing it, then again through another) sat in two task batches; when the holder batch was
//   archived, the other batch held the task again without its facts, and its assignee ran it again.
// - 5006: at the mesh's start a peer ran a bid round it claimed before it knew any other peer was
//   there (the claim gate asked only peers in its registry); now a connected peer must acknowledge too.
// - 7 peers, 300 tasks, 3,000 steps, drop/reorder/delay/duplicate/skew, seed 125: writing back only
//   the facts a live task lost with one activity batch left its claims in others, which went later:
//   a done without its claim counts for nothing, and the task ran again. Every fact is written back.
// - 5 peers, 100 tasks, 1,500 steps (the CLI's defaults), seeds 19 and 27: round 1 failed by its
//   holder (cut off) and expired by a peer that could not see it; the other side bid on round 2 and
//   ran it. When the failure arrived, it made round 2 an assigned round, voided the finished run,
//   and the assignee ran the task again. The expiry now closes such a round (lifecycle.ts).
// - The same configuration, seed 38: a task named by two task batches (two assignees of round 1);
//   the co-assignee ran and finished round 1. When the batches left the live document, the record
//   each replica took named the holder batch's assignee only, so it derived the task unfinished and
//   wrote it back live, where the co-assignee's run no longer counted: the task ran again. Records
//   now keep the co-assignees (TaskRecord.coAssignees).
// The 15-peer ones are in seeds-regressions-15.test.ts (a file of their own, to run in parallel).
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../src/index.js';
import { itPassesWithAllFaults } from './regression-seed.js';

describe('simulator regression seeds, all faults', () => {
  itPassesWithAllFaults(5014, 3, 2000);
  itPassesWithAllFaults(5006, 3, 2000);
  itPassesWithAllFaults(19, 5, 100);
  itPassesWithAllFaults(27, 5, 100);
  itPassesWithAllFaults(38, 5, 100);

  it('seed 125 (7 peers, 300 tasks, no partitions or crashes) has no duplicate run start at all', async () => {
    const r = await runSimulation({ seed: 125, peers: 7, tasks: 300, steps: 3000, stepMs: 10, faults: new Set(['drop', 'reorder', 'delay', 'duplicate', 'skew'] as const), strictDuplicates: true });
    expect(r.problems).toEqual([]);
    const d = r.duplicateCauses;
    expect(d.partition + d.crash + d.unjustified).toBe(0);
    expect(r.ok).toBe(true);
  }, 300_000);
});
