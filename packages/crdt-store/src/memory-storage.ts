// In-memory Storage for the deterministic simulator: a MemoryDisk holds a peer's durable bytes
// (in the same formats as the file storage) and survives simulated crashes, which lose or tear
// whatever was written but not yet flushed. No timers and no randomness of its own: the
// simulator decides when flushes complete (opts.defer) and where crashes land. Recovery repairs
// exactly as the file storage does (log-reader.ts), keeping copies of what it set aside.

import { MeshError } from '@agentmesh/scheduler';
import { LOG_MAGIC, decodeSnapshot, encodeRecord, encodeSnapshot } from './log-codec.js';
import { planLogRepair } from './log-reader.js';
import { LogSeals } from './log-seals.js';
import type { LoadedState, Storage, StorageStats } from './storage.js';

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The durable bytes of one peer: log and snapshot, plus writes not yet made durable. */
export class MemoryDisk {
  private log: Uint8Array[] = [];
  private logLength = 0;
  private volatile: Uint8Array[] = [];
  private snapshot: Uint8Array | null = null;
  /** @internal Bumped by crash(); a storage opened before the crash is dead. */
  generation = 0;
  /** @internal The live MemoryStorage using this disk, if any (the in-memory "LOCK"). */
  owner: object | null = null;
  /** Copies of damaged logs, kept by recovery before it repaired them (the file storage's log.bin.corrupt-<n>). */
  readonly damagedLogs: Uint8Array[] = [];
  /** Corrupt snapshots that recovery set aside (the file storage's snapshot.bin.corrupt-<n>). */
  readonly damagedSnapshots: Uint8Array[] = [];

  /** Durable log bytes (empty when no log was ever written). */
  logBytes(): Uint8Array {
    if (this.log.length !== 1) this.log = [concat(this.log)];
    return this.log[0]!;
  }

  /** Length of the durable log in bytes. */
  logSize(): number {
    return this.logLength;
  }

  /** Durable snapshot bytes, or null when there is none. */
  snapshotBytes(): Uint8Array | null {
    return this.snapshot;
  }

  /**
   * Simulates kill -9 / power loss: everything appended but not flushed is lost, except that
   * with `tear` the first `keepBytes` bytes of the unflushed encoded tail reach the disk as a
   * torn partial write. The storage that was using this disk is dead afterwards.
   */
  crash(tear?: { keepBytes: number }): void {
    const tail = concat(this.volatile);
    this.volatile = [];
    if (tear && tear.keepBytes > 0) this.push(tail.slice(0, Math.min(tear.keepBytes, tail.length)));
    this.generation++;
    this.owner = null;
  }

  /** Flips every bit of the durable log byte at `offset` (for tests). */
  corruptLogAt(offset: number): void {
    const bytes = this.logBytes();
    if (!Number.isInteger(offset) || offset < 0 || offset >= bytes.length) {
      throw new MeshError('INVALID_ARGUMENT', `offset ${offset} is outside the log (${bytes.length} bytes)`);
    }
    bytes[offset] = bytes[offset]! ^ 0xff;
  }

  /** Replaces the durable log bytes (raw, unchecked; for tests and recovery). */
  setLogBytes(bytes: Uint8Array): void {
    this.log = [bytes.slice()];
    this.logLength = bytes.length;
  }

  private push(chunk: Uint8Array): void {
    this.log.push(chunk);
    this.logLength += chunk.length;
  }

  /** Replaces the durable snapshot bytes (raw, unchecked; null removes it). */
  setSnapshotBytes(bytes: Uint8Array | null): void {
    this.snapshot = bytes ? bytes.slice() : null;
  }

  /** @internal Writes bytes to the end of the log, not yet durable. */
  write(bytes: Uint8Array): void {
    this.volatile.push(bytes);
  }

  /** @internal Number of written, not yet durable records. */
  get pendingRecords(): number {
    return this.volatile.length;
  }

  /** @internal Makes every write so far durable; returns how many records that was. */
  sync(): number {
    const n = this.volatile.length;
    for (const chunk of this.volatile) this.push(chunk);
    this.volatile = [];
    return n;
  }
}

/**
 * Storage on a MemoryDisk. Recovery (cutting a damaged tail) runs in the constructor, so the
 * first load() returns what it found. After disk.crash() this object is dead: append() throws
 * STORAGE_CLOSED, load/flush/compact reject with it, close() resolves, stats() still answers,
 * and flushes that were waiting never resolve (like calls in a killed process).
 */
export class MemoryStorage implements Storage {
  private readonly generation: number;
  private readonly defer: (fn: () => void) => void;
  private recovered: LoadedState | null;
  private scheduled: Promise<void> | null = null;
  private closed = false;
  private logRecords = 0;
  /** Where compactions cut the log (log-seals.ts). */
  private readonly seals = new LogSeals();

  constructor(
    private readonly disk: MemoryDisk,
    opts: { defer?: (fn: () => void) => void } = {},
  ) {
    if (disk.owner) throw new MeshError('DATA_DIR_LOCKED', 'memory disk is in use by another MemoryStorage');
    disk.owner = this;
    this.generation = disk.generation;
    this.defer = opts.defer ?? ((fn) => queueMicrotask(fn));
    this.recovered = this.recover();
  }

  private get crashed(): boolean {
    return this.disk.generation !== this.generation;
  }

  private closedError(): MeshError {
    return new MeshError('STORAGE_CLOSED', this.crashed ? 'storage died in a crash' : 'storage is closed');
  }

  private recover(): LoadedState {
    const warnings: string[] = [];
    let snapshot: Uint8Array | null = null;
    const snapBytes = this.disk.snapshotBytes();
    if (snapBytes) {
      try {
        snapshot = decodeSnapshot(snapBytes);
      } catch (e) {
        this.disk.damagedSnapshots.push(snapBytes.slice());
        warnings.push(`snapshot: ${(e as Error).message}; set it aside, continuing with the log alone`);
        this.disk.setSnapshotBytes(null);
      }
    }
    const bytes = this.disk.logBytes();
    const plan = planLogRepair(bytes);
    if (plan.keepCopy) this.disk.damagedLogs.push(bytes.slice());
    for (const note of plan.notes) warnings.push(`log: ${note}`);
    const action = plan.action;
    if (action.kind === 'create') this.disk.setLogBytes(LOG_MAGIC);
    else if (action.kind === 'rewrite') this.disk.setLogBytes(action.bytes);
    else if (action.kind === 'truncate') this.disk.setLogBytes(bytes.subarray(0, action.to));
    if (plan.keepCopy) {
      warnings.push(`log: kept the damaged log as damaged copy #${this.disk.damagedLogs.length}; the log now holds the ${plan.records.length} readable records`);
    }
    this.logRecords = plan.records.length;
    const state: LoadedState = { snapshot, updates: plan.records, warnings };
    if (plan.lost.length > 0) state.lost = plan.lost;
    return state;
  }

  load(): Promise<LoadedState> {
    if (this.closed || this.crashed) return Promise.reject(this.closedError());
    const state = this.recovered ?? this.recover();
    this.recovered = null;
    return Promise.resolve(state);
  }

  append(update: Uint8Array): void {
    if (this.closed || this.crashed) throw this.closedError();
    this.disk.write(encodeRecord(update));
  }

  flush(): Promise<void> {
    if (this.closed || this.crashed) return Promise.reject(this.closedError());
    if (this.scheduled) return this.scheduled; // it syncs everything written by the time it runs
    if (this.disk.pendingRecords === 0) return Promise.resolve();
    const scheduled = new Promise<void>((resolve) => {
      let ran = false;
      this.defer(() => {
        if (ran || this.crashed) return;
        ran = true;
        if (this.scheduled === scheduled) this.scheduled = null;
        this.logRecords += this.disk.sync();
        resolve();
      });
    });
    this.scheduled = scheduled;
    return scheduled;
  }

  /**
   * Atomic and immediate (not deferred): the disk cannot tear halfway through it. With `ready`,
   * the log is sealed now and replaced (up to the seal) once `ready` resolves.
   */
  compact(snapshot: Uint8Array, ready?: PromiseLike<unknown>): Promise<void> {
    // Observed at once: a rejection must not go unhandled on the paths that return early.
    const waited = ready === undefined ? undefined : Promise.resolve(ready);
    waited?.catch(() => {});
    if (this.closed || this.crashed) return Promise.reject(this.closedError());
    let encoded: Uint8Array;
    try {
      encoded = encodeSnapshot(snapshot);
    } catch (e) {
      return Promise.reject(e);
    }
    this.logRecords += this.disk.sync(); // every append so far is covered by the snapshot the caller passes
    const seal = this.seals.seal(this.disk.logSize(), this.logRecords);
    const replace = () => {
      // Closed or crashed meanwhile: the log keeps everything, and the caller learns nothing was compacted.
      if (this.closed || this.crashed) throw this.closedError();
      const cut = this.seals.cut(seal);
      if (!cut) return; // a later compaction already replaced more, with a newer snapshot
      const log = this.disk.logBytes();
      this.disk.setSnapshotBytes(encoded);
      this.disk.setLogBytes(concat([LOG_MAGIC, log.subarray(cut.bytes)]));
      this.seals.dropped(cut);
      this.logRecords -= cut.records;
    };
    if (waited === undefined) {
      replace();
      return Promise.resolve();
    }
    return waited.then(replace);
  }

  stats(): StorageStats {
    const live = !this.closed && !this.crashed;
    return {
      logBytes: this.disk.logSize(),
      snapshotBytes: this.disk.snapshotBytes()?.length ?? 0,
      logRecords: this.logRecords,
      pendingRecords: live ? this.disk.pendingRecords : 0,
    };
  }

  /** Makes every append durable at once (without waiting for `defer`) and releases the disk. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (!this.crashed) {
      this.logRecords += this.disk.sync();
      this.disk.owner = null;
    }
    return Promise.resolve();
  }
}
