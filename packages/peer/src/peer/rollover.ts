// When a peer starts a new document generation and what it archives then: the rollover policy
// (retention, finished tasks kept, document size budget) and the pure helpers that split a
// replica's tasks into kept and archived ones. The switch itself is in generations.ts.

import { DEFAULT_RETENTION, finishedAt, isTerminal, selectArchivable, type FinishedTask, type TaskFacts, type TaskView } from '@agentmesh/scheduler';
import type { ArchiveRecord, Generation, TaskRecord } from '@agentmesh/crdt-store';
import { encodeGeneration } from '@agentmesh/crdt-store';

export interface RolloverPolicy {
  /** Finished tasks older than this leave the live document (default 10 minutes). */
  retentionMs: number;
  /** At most this many finished tasks stay in the live document (default 10,000). */
  maxFinished: number;
  /** Size budget of the live document: past it, finished tasks go sooner (default 4 MiB). */
  maxDocBytes: number;
  /**
   * A finished task leaves the live document only once every known peer holds all of it; a peer
   * not heard from for this long (a dead one) is no longer waited for (default 10 minutes).
   */
  forgetPeersAfterMs: number;
  /** How often a peer checks whether archival or a new generation is due. */
  checkMs: number;
  /**
   * Entries deleted from the live document (by archival) after which a new generation clears
   * their tombstones, once few tasks are live (default 50,000).
   */
  maxTombstones: number;
  /** The peer ranked i for starting a generation waits i x this after it is due, so usually one starts it. */
  staggerMs: number;
}

export const DEFAULT_ROLLOVER: RolloverPolicy = {
  retentionMs: DEFAULT_RETENTION.retentionMs,
  maxFinished: DEFAULT_RETENTION.maxFinished,
  maxDocBytes: 4 * 1024 * 1024,
  forgetPeersAfterMs: 10 * 60_000,
  checkMs: 1000,
  maxTombstones: 50_000,
  staggerMs: 2000,
};

export interface TaskSplit {
  finished: FinishedTask[];
  /** Dependencies of unfinished tasks. */
  liveDeps: string[];
  views: Map<string, TaskView>;
}

/** Splits the tasks a replica sees into finished and unfinished ones. */
export function splitTasks(views: readonly TaskView[], factsOf: (id: string) => TaskFacts | undefined): TaskSplit {
  const finished: FinishedTask[] = [];
  const liveDeps: string[] = [];
  const byId = new Map<string, TaskView>();
  for (const v of views) {
    const facts = factsOf(v.id);
    if (!facts) continue;
    byId.set(v.id, v);
    if (isTerminal(v.state)) finished.push({ id: v.id, finishedAt: finishedAt(facts), dependsOn: facts.spec.dependsOn });
    else liveDeps.push(...facts.spec.dependsOn);
  }
  return { finished, liveDeps, views: byId };
}

/**
 * Finished tasks the live document keeps at most, given its size: the document should stay under
 * half its budget after the change, judged by its current bytes per task.
 */
export function keepFor(policy: RolloverPolicy, docBytes: number, taskCount: number, unfinished: number): number {
  const perTask = docBytes / Math.max(1, taskCount);
  const byBytes = Math.floor(policy.maxDocBytes / 2 / Math.max(1, perTask)) - unfinished;
  return Math.max(0, Math.min(policy.maxFinished, byBytes));
}

/** The tasks a generation with this cut drops from the live document. */
export function dropSet(split: TaskSplit, cut: Generation, retentionMs: number, running: ReadonlySet<string>): Set<string> {
  const ids = selectArchivable(split.finished, split.liveDeps, { at: cut.at, keep: cut.keep, retentionMs });
  return new Set(ids.filter((id) => !running.has(id)));
}

/** The archive's record of a task leaving the live document. */
export function archiveRecord(rec: TaskRecord, v: TaskView, facts: TaskFacts, gen: Generation, now: number): ArchiveRecord {
  return {
    id: rec.id,
    state: v.state === 'done' ? 'done' : v.state === 'cancelled' ? 'cancelled' : 'dead',
    finishedAt: finishedAt(facts),
    result: v.result?.result ?? null,
    peer: v.result?.peer ?? null,
    attempts: v.attempts,
    gen: encodeGeneration(gen),
    archivedAt: now,
    spec: rec.spec,
    facts: rec.facts,
  };
}
