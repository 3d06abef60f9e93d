// Which finished tasks leave the live document at a generation change. A pure function of the
// facts and of the cut (time and number of finished tasks to keep) that the generation carries,
// so every peer that holds the same facts drops the same tasks, whoever started the generation.

import type { TaskFacts } from './types.js';

export interface RetentionPolicy {
  /** A finished task older than this (by its last fact's time, before the cut) leaves the live document. */
  retentionMs: number;
  /** At most this many finished tasks stay in the live document (the newest ones). */
  maxFinished: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { retentionMs: 10 * 60_000, maxFinished: 10_000 };

export interface FinishedTask {
  id: string;
  /** Time of its latest fact (see `finishedAt`). */
  finishedAt: number;
  dependsOn: readonly string[];
}

export interface RetentionCut {
  /** The generation's cut time (the clock of the peer that started it). */
  at: number;
  /** Finished tasks kept at most (newest first). */
  keep: number;
  retentionMs: number;
}

/** The time a task finished, as its facts say: the latest `at` of any fact (writers' clocks). */
export function finishedAt(facts: TaskFacts): number {
  let t = facts.spec.createdAt;
  const all: { at: number }[][] = [facts.bids, facts.claims, facts.dones, facts.fails, facts.expiries, facts.retries ?? [], facts.votes ?? []];
  for (const list of all) for (const f of list) if (f.at > t) t = f.at;
  if (facts.cancel && facts.cancel.at > t) t = facts.cancel.at;
  return t;
}

/** Newest first, then by id: the order in which finished tasks keep their place. */
export function compareFinished(a: FinishedTask, b: FinishedTask): number {
  return b.finishedAt - a.finishedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The finished tasks to archive: those past the retention before the cut or beyond the newest
 * `keep`, except tasks that a task staying in the document depends on (directly or through a
 * chain), since a dependent's state and inputs are read from its dependencies.
 * `liveDeps` lists the dependencies of the unfinished tasks. The result is sorted by id.
 */
export function selectArchivable(finished: readonly FinishedTask[], liveDeps: Iterable<string>, cut: RetentionCut): string[] {
  const sorted = [...finished].sort(compareFinished);
  const byId = new Map(sorted.map((f) => [f.id, f]));
  const drop = new Set<string>();
  sorted.forEach((f, i) => {
    if (i >= cut.keep || f.finishedAt <= cut.at - cut.retentionMs) drop.add(f.id);
  });
  // Pin the dependencies of everything that stays, transitively.
  const stack = [...liveDeps];
  for (const f of sorted) if (!drop.has(f.id)) stack.push(...f.dependsOn);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (!drop.delete(id)) continue;
    stack.push(...(byId.get(id)?.dependsOn ?? []));
  }
  return [...drop].sort();
}
