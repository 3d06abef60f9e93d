// How a run is printed: the public JSON line (a fixed contract, keys in a fixed order) and the
// readable summary. Neither holds wall-clock times, so the same seed prints the same bytes.

import type { SimResult } from './runner.js';

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
    ok: r.ok,
  };
}

export function summaryLine(r: SimResult): string {
  return [
    `seed ${r.seed}: ${r.ok ? 'OK' : 'FAILED'} (${r.peers} peers, ${r.tasks} tasks, ${r.steps} steps)`,
    `  converged: ${r.converged ? `yes, ${r.healSteps} heal steps` : 'NO'}`,
    `  completed ${r.completed}, dead ${r.dead}, stuck ${r.stuck}, duplicate runs ${r.duplicateRuns}`,
    `  lost tasks ${r.lostTasks}, lost data ${r.lostData}, split winners ${r.tasksWithoutOneWinner}, wrong results ${r.wrongResults}`,
    `  bounded document: ${r.generations} generations, ${r.archived} tasks archived, ${r.generationMovesInPartition} generation moves during partitions`,
    `  exclusive tasks: ${r.exclusiveTasks} (${r.exclusiveRuns} run starts, ${r.exclusiveViolations} violations)`,
    `  faults: ${r.crashes} crashes, ${r.partitions} partitions; messages ${r.messages.sent} sent, ${r.messages.dropped} dropped, ${r.messages.duplicated} duplicated`,
    ...r.problems.map((p) => `  problem: ${p}`),
  ].join('\n');
}
