// How a run is printed: the public JSON line (a fixed contract, keys in a fixed order) and the
// readable summary. Neither holds wall-clock times, so the same seed prints the same bytes.

import type { SimResult } from './runner.js';
import { causesText } from './sweep.js';

export function publicJson(r: SimResult): Record<string, unknown> {
  return {
    seed: r.seed,
    peers: r.peers,
    tasks: r.tasks,
    steps: r.steps,
    converged: r.converged,
    lostTasks: r.lostTasks,
    lostData: r.lostData,
    tasksWithoutOneWinner: r.tasksWithoutOneWinner,
    duplicateRuns: r.duplicateRuns,
    completed: r.completed,
    healSteps: r.healSteps,
    dead: r.dead,
    stuck: r.stuck,
    wrongResults: r.wrongResults,
    crashes: r.crashes,
    partitions: r.partitions,
    exclusiveViolations: r.exclusiveViolations,
    generations: r.generations,
    archived: r.archived,
    messages: r.messages.sent,
    // Added by issue 12 (before `ok`, which stays last): duplicate run starts by cause (see the
    // README, "When a duplicate run is justified"), what went wrong in the unjustified ones, the
    // run starts seen, and the heal budget the run had.
    duplicateCauses: { ...r.duplicateCauses },
    unjustifiedKinds: { ...r.unjustifiedKinds },
    runStarts: r.runStarts,
    healBudget: r.healBudget,
    ok: r.ok,
  };
}

export function summaryLine(r: SimResult): string {
  return [
    `seed ${r.seed}: ${r.ok ? 'OK' : 'FAILED'} (${r.peers} peers, ${r.tasks} tasks, ${r.steps} steps)`,
    `  converged: ${r.converged ? `yes, ${r.healSteps} heal steps` : 'NO'} (budget ${r.healBudget})`,
    `  completed ${r.completed}, dead ${r.dead}, stuck ${r.stuck}, duplicate runs ${r.duplicateRuns}`,
    `  duplicate run starts ${dupStarts(r)} of ${r.runStarts} run starts: ${causesText(r.duplicateCauses, r.unjustifiedKinds, r.unjustifiedNearGeneration, r.runStarts, r.runStartsNearGeneration)}`,
    ...r.unjustifiedExamples.slice(0, r.problems.length > 0 ? 0 : 3).map((e) => `    ${e}`),
    `  lost tasks ${r.lostTasks}, lost data ${r.lostData}, split winners ${r.tasksWithoutOneWinner}, wrong results ${r.wrongResults}`,
    `  bounded document: ${r.generations} generations, ${r.archived} tasks archived, ${r.generationMovesInPartition} generation moves during partitions`,
    `  exclusive tasks: ${r.exclusiveTasks} (${r.exclusiveRuns} run starts, ${r.exclusiveViolations} violations)`,
    `  faults: ${r.crashes} crashes, ${r.partitions} partitions; messages ${r.messages.sent} sent, ${r.messages.dropped} dropped, ${r.messages.duplicated} duplicated`,
    ...r.problems.map((p) => `  problem: ${p}`),
  ].join('\n');
}

function dupStarts(r: SimResult): number {
  return r.duplicateCauses.partition + r.duplicateCauses.crash + r.duplicateCauses.unjustified;
}
