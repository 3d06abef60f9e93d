// Where a compaction cuts the update log, shared by both storages (node.ts, memory-storage.ts).
// A compaction that waits for its `ready` seals the log when it is called: its snapshot replaces
// only what was logged before. Seals are counted from the log's first byte since the storage
// opened, so a seal taken before an earlier compaction dropped a prefix still finds its place,
// and one a later compaction already cut past is skipped (that compaction's snapshot is newer).

import { LOG_MAGIC } from './log-codec.js';

/** The log's length and record count at a compaction's call, counted since the storage opened. */
export interface Seal {
  bytes: number;
  records: number;
}

/** Where the current log is cut: its first `bytes` (the header included) and `records` records go. */
export interface Cut {
  bytes: number;
  records: number;
}

export class LogSeals {
  /** Log bytes (headers not counted) and records that compactions dropped since the storage opened. */
  private droppedBytes = 0;
  private droppedRecords = 0;

  /** The seal of a log now `logBytes` long (its header included) holding `records` records. */
  seal(logBytes: number, records: number): Seal {
    return { bytes: this.droppedBytes + logBytes, records: this.droppedRecords + records };
  }

  /** Where the current log is cut for `seal`; undefined when a later compaction already cut past it. */
  cut(seal: Seal): Cut | undefined {
    const bytes = seal.bytes - this.droppedBytes;
    return bytes < LOG_MAGIC.length ? undefined : { bytes, records: seal.records - this.droppedRecords };
  }

  /** The log lost what `cut` named: later seals count from what follows it. */
  dropped(cut: Cut): void {
    this.droppedBytes += cut.bytes - LOG_MAGIC.length;
    this.droppedRecords += cut.records;
  }
}
