// Shapes shared by the task board and the modules it is made of (the facts cache, the peer
// registry, shared data, generation meta, copying between boards): its options, its change
// events, the origin of its own writes and the raw task record the archive keeps. Also the
// context each part gets from the board (clock, validation report, local transaction), so the
// parts never hold a reference to the board itself.

import type { EntryTrust } from './trust/trust.js';
import type { TaskFacts } from '@agentmesh/scheduler';

/** Origin of the board's own writes; anything else that changes the doc is remote or storage. */
export const LOCAL_ORIGIN = Symbol('agentmesh-local');

export interface InvalidEntry {
  map: string;
  key: string;
  reason: string;
}

/** A task as the archive keeps it: the raw spec and every fact of it, by fact key. */
export interface TaskRecord {
  id: string;
  spec: unknown;
  facts: Record<string, unknown>;
  /**
   * Assignees of round 1 named by the other task batches that named this id (an id submitted twice;
   * TaskFacts.coAssignees), as the replica that made the record knew them. Not part of any signed
   * entry: it lets the record derive the state the live task had (a co-assignee's run counts), so
   * a replica does not take a task it saw done for unfinished when it leaves the live document.
   */
  coAssignees?: string[];
}

export interface BoardChange {
  /** Tasks whose spec or facts changed. */
  tasks: Set<string>;
  /** Peers whose registry entry changed. */
  peers: Set<string>;
  /** Peers whose heartbeat changed. */
  beats: Set<string>;
  /** Data keys (namespace/key) that changed. */
  data: Set<string>;
  /**
   * Tasks that left the live document in this transaction (their entries were deleted: archived
   * by some peer), each with its spec and every fact it had here, for this replica's archive.
   */
  removed: TaskRecord[];
  /**
   * Tasks still live here that lost facts in this transaction: an activity batch naming them was
   * deleted by a peer that had already archived them (a task back from its archive elsewhere, or
   * seen here only). Each record holds every fact the task had (and its spec); the peer writes them back as
   * single entries, or the task's outcome here could change.
   */
  dropped: TaskRecord[];
  /**
   * The bytes of the batches the `removed` and `dropped` records refer to (`segs/<key>`,
   * `acts/<key>`): their batch entries hold a reference (SigRef) instead of a carried signature.
   * TaskBoard.signedRecords makes the signed entries again from these; the archive keeps them.
   */
  sheets?: Map<string, Uint8Array>;
  /**
   * The facts of each `removed` record as this replica's index held them, in the form
   * factsFromRecord gives for the record (no `alsoBy` merges): the archive need not parse the
   * record again.
   */
  removedFacts?: Map<string, TaskFacts>;
  /** Entries deleted in this transaction (each leaves a tombstone in the document). */
  deleted: number;
  /** True when the change came from this board's own writes. */
  local: boolean;
  origin: unknown;
}

export interface TaskBoardOptions {
  /** This replica's clock (ms); used only to stamp when facts were first seen. */
  now: () => number;
  /**
   * Signed entries (docs/security.md): the board signs what it writes with this trust's key and
   * reads only entries signed by their author. Without it nothing is signed or checked (tools, tests).
   */
  trust?: EntryTrust;
  /** Called for every entry that fails validation (remote junk, hostile writes). */
  onInvalid?: (entry: InvalidEntry) => void;
}

/** What the board lends each of its parts. @internal */
export interface BoardContext {
  /** This replica's clock (the board's `now` option). */
  now(): number;
  /** Counts and reports an entry that failed validation. */
  reject(map: string, key: string, reason: string): void;
  /** Runs writes as one Yjs transaction with LOCAL_ORIGIN (the board's `transact`). */
  transact<T>(fn: () => T): T;
  /** Tasks this replica indexed from its own write (inside a transaction): reported with its change. */
  changed(tasks: Iterable<string>): void;
  /** Signing and checking (the board's `trust` option), if any. */
  readonly trust: EntryTrust | undefined;
  /** True inside this board's own write transaction (its entries were signed here: not checked again). */
  isLocal(): boolean;
}

/** Drops undefined fields so Yjs stores plain JSON. @internal */
export function toPlain<T extends object>(v: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // for-in, not Object.entries: no array of pairs per call (archival copies every fact of every task).
  for (const k in v) if (Object.hasOwn(v, k) && v[k] !== undefined) out[k] = v[k];
  return out;
}

/**
 * `{ ...toPlain({ ...v, [set[0]]: set[1] }), [then[0]]: then[1] }` without `omit`, in one copy
 * instead of three (archival builds one such object per fact of every task it archives). @internal
 */
export function plainWith(v: object, omit?: string, set?: readonly [string, unknown], then?: readonly [string, unknown]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const src = v as Record<string, unknown>;
  for (const k in src) {
    if (!Object.hasOwn(src, k) || k === omit) continue;
    const x = set !== undefined && k === set[0] ? set[1] : src[k];
    if (x !== undefined) out[k] = x;
  }
  if (set !== undefined && set[1] !== undefined && !Object.hasOwn(src, set[0])) out[set[0]] = set[1];
  if (then !== undefined) out[then[0]] = then[1];
  return out;
}
