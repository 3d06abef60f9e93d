// What leaves the live document together. A task batch leaves only with every task it names; and
// when one task id is named by more than one batch (its id or idempotency key submitted twice, say
// through two peers while one of them was cut off), the batch holding it and every rival naming it
// leave in the same transaction: else, with the holder gone, the next rival would hold the task
// again, with none of its facts, and its assignee would run it a second time.

/** What the grouping reads of the board. */
export interface UnitBoard {
  batchOf(id: string): string | undefined;
  batchTasks(key: string): readonly string[];
  rivalBatches(id: string): readonly string[];
  getSpec(id: string): unknown;
}

/**
 * Groups the selected finished tasks into units that leave together: a single task is its own
 * unit (keyed by its id); batches linked by a task they both name form one unit (keyed by the
 * smallest batch key) holding every task those batches hold. A unit with any held task not
 * selected is left out (it waits until all of them are finished and selected).
 */
export function archiveUnits(board: UnitBoard, selected: ReadonlySet<string>): Map<string, string[]> {
  const units = new Map<string, string[]>();
  const visited = new Set<string>();
  for (const id of selected) {
    const start = board.batchOf(id);
    if (start === undefined) {
      units.set(id, [id]);
      continue;
    }
    if (visited.has(start)) continue;
    // Every batch linked to `start` through a task named by two of them.
    const group = [start];
    visited.add(start);
    const ids = new Set<string>();
    let complete = true;
    for (let i = 0; i < group.length; i++) {
      for (const t of board.batchTasks(group[i]!)) {
        const holder = board.batchOf(t);
        if (holder === undefined && board.getSpec(t) === undefined) continue; // not held here (archived, or not arrived)
        if (!selected.has(t)) complete = false;
        ids.add(t);
        for (const k of holder === undefined ? board.rivalBatches(t) : [holder, ...board.rivalBatches(t)]) {
          if (visited.has(k)) continue;
          visited.add(k);
          group.push(k);
        }
      }
    }
    if (complete) units.set(group.reduce((a, b) => (b < a ? b : a)), [...ids]);
  }
  return units;
}
