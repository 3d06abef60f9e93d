// The heal budget a run gets when none is given: how many steps the heal phase may take to finish
// the work left and converge before the run counts as not converged. It grows with the work a
// peer may have left when the network heals (tasks per peer); see the sim README ("Heal budget")
// for the measurements behind the constants.

/** Steps every run gets, whatever its size (the budget before it scaled). */
export const HEAL_BASE_STEPS = 3000;
/** Extra steps per task per peer. */
export const HEAL_STEPS_PER_TASK_PER_PEER = 3;

export const HEAL_BUDGET_FORMULA = `${HEAL_BASE_STEPS} + ${HEAL_STEPS_PER_TASK_PER_PEER} x tasks / peers`;

export function defaultHealBudget(peers: number, tasks: number): number {
  return HEAL_BASE_STEPS + Math.ceil((HEAL_STEPS_PER_TASK_PER_PEER * tasks) / Math.max(1, peers));
}
