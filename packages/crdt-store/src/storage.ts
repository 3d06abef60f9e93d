// The contract between a peer and its durable storage, shared by the Node file storage and
// the simulator's in-memory storage. Pure types, browser-safe. The executable form of this
// contract is storage-contract.ts ('@agentmesh/crdt-store/testing'); every implementation runs it.

import type { LogDamage } from './log-reader.js';

export interface LoadedState {
  /** Payload of the last snapshot (a whole-document update), or null when there is none. */
  snapshot: Uint8Array | null;
  /** Updates logged after (or, after a crash mid-compaction, also before) the snapshot, in order. */
  updates: Uint8Array[];
  /** Human-readable notes about damage that was found and repaired while loading. */
  warnings: string[];
  /**
   * Records of the log that could not be read (damage in the middle of it): where they were and
   * how many. The readable records after them are in `updates`. Absent when nothing was lost.
   */
  lost?: LogDamage[];
}

export interface StorageStats {
  /** Bytes of the log on disk, header included. */
  logBytes: number;
  /** Bytes of the snapshot on disk (0 when none). */
  snapshotBytes: number;
  /** Records in the log on disk. */
  logRecords: number;
  /** Records appended but not yet durable. */
  pendingRecords: number;
}

/**
 * A peer's durable state, used by one Storage at a time: opening a second one over the same state
 * while the first is open fails with DATA_DIR_LOCKED.
 */
export interface Storage {
  /**
   * Reads what is on disk. A torn tail is cut off with a warning; a damaged record costs that
   * record only (the ones after it load, the loss is in `warnings` and `lost`, and a copy of the
   * damaged log is kept before it is repaired); never a throw. Recovery already ran when the storage was opened, so appends made before
   * load() are safe; the first load() returns what recovery found.
   */
  load(): Promise<LoadedState>;
  /** Queues one update; it is durable once a later flush() resolves. Cheap, synchronous. Throws STORAGE_CLOSED after close(). */
  append(update: Uint8Array): void;
  /** Makes every append so far durable (write + fsync). Concurrent calls coalesce into one fsync (group commit). */
  flush(): Promise<void>;
  /**
   * Replaces log and snapshot by one snapshot holding the whole state (the caller passes
   * Y.encodeStateAsUpdate(doc), which must cover every update appended before this call).
   * Crash-safe at every point: before it completes, the old snapshot+log still load; after,
   * the new snapshot loads. It first flushes pending appends, then writes the snapshot, then
   * empties the log; appends made after the call are kept in the log.
   * With `ready`, the log is sealed at the call (the snapshot replaces only what was appended
   * before it) and the snapshot is written once `ready` resolves; appends meanwhile are flushed as
   * usual and stay in the log after the snapshot. A rejected `ready` rejects compact() with its
   * error and changes nothing. (A peer waits so for archive writes of tasks its log still holds.)
   */
  compact(snapshot: Uint8Array, ready?: PromiseLike<unknown>): Promise<void>;
  stats(): StorageStats;
  /**
   * Flushes and releases files/locks. Idempotent. Afterwards append() throws STORAGE_CLOSED and
   * load(), flush() and compact() return promises rejected with it.
   */
  close(): Promise<void>;
}
