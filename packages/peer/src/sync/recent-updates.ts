// A short ring of the document's recent updates (every transaction's update, local or remote, as
// the document emitted it), so a pull from a peer that is only a little behind is answered with
// Y.diffUpdate over the few updates it lacks instead of Y.encodeStateAsUpdate, which walks the
// whole document to build the delete set. Each entry keeps the state vector from before its
// transaction (Yjs computes it for every transaction anyway): a peer that holds everything of an
// entry's before-state lacks nothing older than that entry, so the entries from there on hold
// everything it lacks. Deletions older than the ring are not repeated: like the answer that sends
// nothing to a peer holding every clock of ours, this relies on the board never deleting without
// inserting in the same transaction, so a peer that holds an insertion holds its deletions too.
// Yjs splits a remote update whose structs wait for missing ones (deletions now, structs later):
// the engine empties the ring around such an episode, so no answer starts between the halves.

import * as Y from 'yjs';
import { covers, type StateVector } from './state-vectors.js';

export interface RecentUpdatesLimits {
  /** Most updates kept. */
  maxEntries: number;
  /** Most bytes kept; a larger update empties the ring. */
  maxBytes: number;
}

/**
 * Y.mergeUpdates grows faster than linearly with the number of updates: measured on a 3 MB board
 * (bench/src/sync-costs.ts), 10 updates merge and diff in about a sixth of the time
 * Y.encodeStateAsUpdate takes, 100 in more; so the ring stays short.
 */
export const DEFAULT_RECENT_LIMITS: RecentUpdatesLimits = { maxEntries: 64, maxBytes: 1024 * 1024 };

interface Entry {
  update: Uint8Array;
  before: StateVector;
}

export class RecentUpdates {
  private entries: Entry[] = [];
  /** Index of the oldest live entry (entries before it are dropped lazily). */
  private head = 0;
  private bytes = 0;
  /** Pulls answered from the ring, and pulls it could not answer. */
  hits = 0;
  misses = 0;

  constructor(private readonly limits: RecentUpdatesLimits = DEFAULT_RECENT_LIMITS) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  /** One transaction's update and the document's state vector before it. */
  record(update: Uint8Array, before: StateVector): void {
    if (update.byteLength > this.limits.maxBytes) {
      this.clear();
      return;
    }
    this.entries.push({ update, before });
    this.bytes += update.byteLength;
    while (this.size > this.limits.maxEntries || this.bytes > this.limits.maxBytes) {
      this.bytes -= this.entries[this.head]!.update.byteLength;
      this.entries[this.head++] = undefined as unknown as Entry;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  /**
   * What a peer holding `asker` lacks, from the ring alone (`askerEncoded` is the same state
   * vector as sent): undefined when the ring does not reach back far enough.
   */
  answer(asker: StateVector, askerEncoded: Uint8Array): Uint8Array | undefined {
    // The newest entry whose before-state the asker holds (before-states only grow, so the ones
    // it holds are a prefix): from there on the ring has all it lacks.
    let lo = this.head;
    let hi = this.entries.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (covers(asker, this.entries[mid]!.before)) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (k < 0) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const parts: Uint8Array[] = [];
    for (let i = k; i < this.entries.length; i++) parts.push(this.entries[i]!.update);
    const merged = parts.length === 1 ? parts[0]! : Y.mergeUpdates(parts);
    return Y.diffUpdate(merged, askerEncoded);
  }
}

const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());

/**
 * The answer to a pull from a peer holding `sv` (`encoded` as it sent it; `local`: our clocks).
 * When it holds every client clock of ours, nothing (this document never deletes without
 * inserting, so deletions travel with the insertions that caused them): an empty answer instead
 * of the whole delete set. When it is only a little behind, the ring of recent updates answers;
 * otherwise (or with pending structs, which only a whole-document diff carries) a diff of the
 * whole document. Throws when `encoded` is not a state vector.
 */
export function answerPull(
  doc: Y.Doc,
  recent: RecentUpdates,
  sv: StateVector,
  encoded: Uint8Array,
  local: StateVector,
  stats: { answeredFromRecent: number; answeredFull: number },
): Uint8Array {
  if (covers(sv, local)) return EMPTY_UPDATE;
  if (doc.store.pendingStructs === null && doc.store.pendingDs === null) {
    const fromRecent = recent.answer(sv, encoded);
    if (fromRecent) {
      stats.answeredFromRecent++;
      return fromRecent;
    }
  }
  stats.answeredFull++;
  return Y.encodeStateAsUpdate(doc, encoded);
}
