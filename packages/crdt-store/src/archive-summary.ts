// What a list of archived tasks shows and filters on, computed once from a record when it is
// archived: its type, who ran it, when it was submitted, the last error, the idempotency key, the
// dependencies and the duplicate runs (successful runs other than the canonical one). The file
// archive keeps these as indexed columns; the memory archive filters on them in memory. Also the
// query shape (`ArchiveQuery`) both answer. Pure and browser-safe.

import { canonicalResult, type TaskFacts } from '@agentmesh/scheduler';
import type { ArchiveRecord, ArchivedState } from './archive.js';
import { factsFromRecord } from './fact-index.js';

export interface ArchiveSummary {
  id: string;
  state: ArchivedState;
  type: string;
  /** Peer id that produced the result (done), or that ran the last attempt (dead, cancelled); null if none ran it. */
  peer: string | null;
  /** Submitted (the creator's clock); null when the spec does not say. */
  createdAt: number | null;
  finishedAt: number;
  archivedAt: number;
  attempts: number;
  /** Successful runs other than the canonical one. */
  duplicates: number;
  key: string | null;
  /** The last failed run's error, if any. */
  error: string | null;
  dependsOn: string[];
  gen: string;
}

export type ArchiveSort = 'created' | 'finished' | 'state' | 'type' | 'peer' | 'attempts' | 'id';
export const ARCHIVE_SORTS: readonly ArchiveSort[] = ['created', 'finished', 'state', 'type', 'peer', 'attempts', 'id'];

/** A search of archived tasks: every given filter must hold. */
export interface ArchiveQuery {
  states?: ArchivedState[];
  type?: string;
  /** Peer ids (any of them). */
  peers?: string[];
  /** Submitted at or after (ms since epoch). */
  since?: number;
  /** Case-insensitive substring of the id, type, key, peer id or last error. */
  text?: string;
  /** Only tasks with duplicate runs. */
  duplicated?: boolean;
  sort?: ArchiveSort;
  /** Newest / largest first (default true). */
  desc?: boolean;
  limit?: number;
  offset?: number;
}

export interface ArchiveQueryResult {
  rows: ArchiveSummary[];
  /** Matching records in all (not only this page). */
  total: number;
}

/**
 * The summary of a record (derives the duplicate runs from its facts). `facts`: the record's facts
 * when the caller parsed them already (factsFromRecord of the same spec and facts), so archiving a
 * task does not parse them twice (it was 5% of a peer's CPU under sustained load).
 */
export function summarizeRecord(r: ArchiveRecord, facts: TaskFacts | undefined = factsFromRecord(r)): ArchiveSummary {
  const spec = (typeof r.spec === 'object' && r.spec !== null ? r.spec : {}) as Record<string, unknown>;
  let duplicates = 0;
  let error: string | null = null;
  let ranBy: string | null = null;
  if (facts) {
    // The quorum a claim recorded counts; a claim without one needs a majority of those who voted.
    const voters = new Set((facts.votes ?? []).map((v) => v.voter)).size;
    duplicates = canonicalResult(facts, Math.max(1, voters)).duplicates.length;
    const last = latest(facts.fails);
    if (last) {
      error = last.error;
      ranBy = last.peer;
    }
    if (!ranBy) ranBy = latest(facts.claims)?.peer ?? null;
  }
  return {
    id: r.id,
    state: r.state,
    type: typeof spec.type === 'string' ? spec.type : '',
    peer: r.peer ?? ranBy,
    createdAt: typeof spec.createdAt === 'number' ? spec.createdAt : null,
    finishedAt: r.finishedAt,
    archivedAt: r.archivedAt,
    attempts: r.attempts,
    duplicates,
    key: typeof spec.key === 'string' ? spec.key : null,
    error,
    dependsOn: Array.isArray(spec.dependsOn) ? spec.dependsOn.filter((d): d is string => typeof d === 'string') : [],
    gen: r.gen,
  };
}

/** The last of `xs` by (round, at), the later one of equals: what a stable sort's last element is, without the sort. @internal */
export function latest<T extends { round: number; at: number }>(xs: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const x of xs) if (!best || x.round > best.round || (x.round === best.round && x.at >= best.at)) best = x;
  return best;
}

/** Does a summary match a query's filters? (The memory archive's search; the file archive uses SQL.) */
export function matchesQuery(s: ArchiveSummary, q: ArchiveQuery): boolean {
  if (q.states && q.states.length > 0 && !q.states.includes(s.state)) return false;
  if (q.type !== undefined && s.type !== q.type) return false;
  if (q.peers && q.peers.length > 0 && (s.peer === null || !q.peers.includes(s.peer))) return false;
  if (q.since !== undefined && (s.createdAt ?? s.finishedAt) < q.since) return false;
  if (q.duplicated && s.duplicates === 0) return false;
  if (q.text) {
    const t = q.text.toLowerCase();
    const hay = [s.id, s.type, s.key ?? '', s.peer ?? '', s.error ?? ''].join('\n').toLowerCase();
    if (!hay.includes(t)) return false;
  }
  return true;
}

/** Orders summaries as a query asks (ties by id, so pages never overlap). */
export function compareSummaries(sort: ArchiveSort, desc: boolean): (a: ArchiveSummary, b: ArchiveSummary) => number {
  const key = (s: ArchiveSummary): string | number => {
    switch (sort) {
      case 'created':
        return s.createdAt ?? s.finishedAt;
      case 'finished':
        return s.finishedAt;
      case 'state':
        return s.state;
      case 'type':
        return s.type;
      case 'peer':
        return s.peer ?? '';
      case 'attempts':
        return s.attempts;
      case 'id':
        return s.id;
    }
  };
  const dir = desc ? -1 : 1;
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    if (x !== y) return (x < y ? -1 : 1) * dir;
    return a.id === b.id ? 0 : (a.id < b.id ? -1 : 1) * dir;
  };
}
