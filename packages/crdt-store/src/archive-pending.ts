// What the file archive (node-archive.ts) holds of an append until it is committed: the records
// waiting, their rows once made, and how the append is settled; and how much is committed on the
// event loop at a time (without a writer thread, or after it failed).

import type { TaskFacts } from '@agentmesh/scheduler';
import type { ArchiveRecord } from './archive.js';
import type { Row } from './archive-db.js';

/**
 * Rows made in one turn of the event loop (the loop runs between chunks), and committed per
 * transaction when rows are committed on the loop. Small enough that a chunk is a short turn (200
 * rows were 20-40 ms, a wait for any submit arriving meanwhile).
 */
export const CHUNK = 64;

/** Rows committed on the loop in one pass of the queue at most (whole appends). */
export const GROUP_ROWS = 512;

/** Unit rows waiting on the writer thread past which the next ones are committed on the loop (about 1,000 tasks). */
export const UNITS_ON_THREAD_MAX = 16;

/** An append waiting to be written, and how to settle it. */
export interface Waiting {
  batch: Pending[];
  /** Sheets new with this append (committed with its first rows). */
  sheets: [string, Uint8Array][];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A record appended but not committed yet; its row is made when its chunk is written. */
export interface Pending {
  rec: ArchiveRecord;
  row: Row | undefined;
  /** Its facts, parsed by the caller of append (undefined: parsed when the row is made). */
  facts: TaskFacts | undefined;
  /** False when no record of its id was stored or being stored when it was appended (the Bloom filter said so). */
  stored: boolean;
}
