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
  const old = cut.at - cut.retentionMs;
  // Nothing beyond `keep` and nothing past the retention: nothing leaves (the common case of a
  // look every second on a busy board; no sort of every finished task for it).
  if (finished.length <= cut.keep && !finished.some((f) => f.finishedAt <= old)) return [];
  const drop = new Set<string>();
  const stays: FinishedTask[] = [];
  const all = [...finished];
  // The newest `keep` are the first `keep` after a selection in compareFinished order (the same
  // set a sort would put first, at a fraction of a sort's comparisons).
  if (all.length > cut.keep && cut.keep > 0) selectFirst(all, cut.keep - 1, compareFinished);
  all.forEach((f, i) => {
    if (i >= cut.keep || f.finishedAt <= old) drop.add(f.id);
    else stays.push(f);
  });
  // Pin the dependencies of everything that stays, transitively.
  const stack = [...liveDeps];
  for (const f of stays) stack.push(...f.dependsOn);
  if (stack.length > 0) {
    const byId = new Map(all.map((f) => [f.id, f]));
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (!drop.delete(id)) continue;
      stack.push(...(byId.get(id)?.dependsOn ?? []));
    }
  }
  return [...drop].sort();
}

/**
 * Reorders `a` so that `a[k]` is the element a sort by `cmp` would put there, every element before
 * it comes no later and every one after it no earlier (quickselect, median-of-three pivots).
 */
export function selectFirst<T>(a: T[], k: number, cmp: (x: T, y: T) => number): void {
  const swap = (i: number, j: number) => {
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  };
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    if (cmp(a[mid]!, a[lo]!) < 0) swap(mid, lo);
    if (cmp(a[hi]!, a[lo]!) < 0) swap(hi, lo);
    if (cmp(a[hi]!, a[mid]!) < 0) swap(hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (cmp(a[i]!, pivot) < 0) i++;
      while (cmp(a[j]!, pivot) > 0) j--;
      if (i <= j) swap(i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}
