// The heal budget a run gets when none is given: how many steps the heal phase may take to finish
// the work left and converge before the run counts as not converged.
//
// The heal is work-bound: once the network is whole, the mesh runs the backlog at the sum of its
// peers' capacities (each peer's token bucket: at most `capacity` run starts per second, drawn
// from 10..40 per peer), and converges within a fraction of a second of the last run (measured:
// `--peers 3 --tasks 2000`, seed 5003, capacities 12+13+13 = 38/s, ran a flat 38 runs/s for the
// whole 58 s heal and converged 200 ms after its last run). So the budget is a fixed base (what
// every run had before: leases to lapse, crashed peers to come back, replicas to merge) plus the
// time the slowest mesh the simulator can draw (10 runs/s per peer) needs to run every task from
// scratch, twice (retries after planned failures add ~19% runs, duplicates up to ~50% with 15
// peers and every fault). A run that converges stops at once, so a generous budget costs a
// passing run nothing; it only bounds how long a run that never converges takes to say so.

/** Base steps (at least 30 s of virtual time; never below the 3,000 steps every run had before). */
export const HEAL_BASE_STEPS = 3000;
export const HEAL_BASE_MS = 30_000;
/** The slowest mesh the simulator draws: every peer at the lowest capacity (runs/s per peer). */
export const MIN_RUNS_PER_SECOND_PER_PEER = 10;
/** Runs budgeted per task: the task, its retries and its duplicates, with room to spare. */
export const RUNS_PER_TASK = 2;

export const HEAL_BUDGET_FORMULA = `max(${HEAL_BASE_STEPS}, ${HEAL_BASE_MS} ms / step-ms) + ${RUNS_PER_TASK} x tasks / (${MIN_RUNS_PER_SECOND_PER_PEER}/s x peers), in steps`;

export function defaultHealBudget(peers: number, tasks: number, stepMs = 10): number {
  const base = Math.max(HEAL_BASE_STEPS, Math.ceil(HEAL_BASE_MS / stepMs));
  const workMs = (RUNS_PER_TASK * tasks * 1000) / (MIN_RUNS_PER_SECOND_PER_PEER * Math.max(1, peers));
  return base + Math.ceil(workMs / stepMs);
}
