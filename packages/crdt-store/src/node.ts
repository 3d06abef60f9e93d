// Node-only Storage on real files, so a peer killed with kill -9 restarts with every update it
// acknowledged: log.bin (append + fdatasync, group commit), snapshot.bin (atomic replace on
// compaction) and a LOCK file holding the owner's pid, in one data directory per peer. What
// happens to damaged files when it opens is node-recovery.ts.

import { mkdir, open, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MeshError, resolveLogger, type Logger } from '@agentmesh/scheduler';
import { LOG_MAGIC, encodeRecord, encodeSnapshot } from './log-codec.js';
import { LogSeals, type Seal } from './log-seals.js';
import { LOG_FILE, LOG_TMP, SNAPSHOT_FILE, SNAPSHOT_TMP, errno, fsyncDir, readAll, readOrNull, recover, unlinkIfExists, writeAll, writeDurable, type Recovered } from './node-recovery.js';
import type { LoadedState, Storage, StorageStats } from './storage.js';

export interface FileStorageOptions {
  /** Receives warnings (recovery, lock take-over, a failed write) at level 'warn' (default: console.warn). */
  logger?: Logger;
  /** Appended bytes that start a background flush once exceeded (default 4 MiB). */
  maxBufferBytes?: number;
}

const LOCK_FILE = 'LOCK';

/** Data dirs open in this process: the pid in LOCK cannot tell two of our own opens apart. */
const openDirs = new Set<string>();

const noop = (): void => {};
/** Without a logger, warnings go to the console as they always did. */
const consoleWarnings: Logger = { log: (_level, msg) => console.warn(`[crdt-store] ${msg}`) };
const closedError = (): MeshError => new MeshError('STORAGE_CLOSED', 'storage is closed');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM'; // exists, but belongs to someone else
  }
}

async function acquireLock(dir: string, shownDir: string, say: (msg: string) => void): Promise<string> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      return path;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    const text = (await readOrNull(path))?.toString('utf8').trim();
    if (text === undefined) continue; // removed meanwhile: try again
    const pid = Number(text);
    // Our own pid counts as stale: after kill -9 a restarted container often reuses the pid.
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new MeshError('DATA_DIR_LOCKED', `data dir ${shownDir} is in use by pid ${pid}`, { dir: shownDir, pid });
    }
    say(`${path}: taking over stale lock of pid ${text || '(none)'}, which is not running`);
    await unlinkIfExists(path);
  }
  throw new MeshError('DATA_DIR_LOCKED', `data dir ${shownDir} is in use (could not take its LOCK)`, { dir: shownDir });
}

/**
 * Storage in a data directory. Open it with openFileStorage(), which takes the LOCK and runs
 * recovery, so appends are safe even before load(). All disk writes go through one queue;
 * appends are batched and each flush is one write + fdatasync shared by every caller waiting.
 * After a failed write or fsync the storage refuses further work (the page cache can no longer
 * be trusted); reopening recovers what reached the disk.
 */
export class FileStorage implements Storage {
  /** Appended records not yet handed to a write. */
  private batch: Uint8Array[] = [];
  private unwrittenBytes = 0;
  private unwrittenRecords = 0;
  /** A queued write that has not started, so it will also take records appended meanwhile. */
  private scheduled: Promise<void> | null = null;
  /** The last queued write: once it resolves, every record handed to a write is durable. */
  private lastWrite: Promise<void> = Promise.resolve();
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private recovered: LoadedState | null;
  private logSize: number;
  private snapshotSize: number;
  private logRecords: number;
  /** Where compactions cut the log (log-seals.ts). */
  private readonly seals = new LogSeals();

  private constructor(
    readonly dir: string,
    private fh: FileHandle,
    private readonly lockPath: string,
    private readonly logger: Logger,
    private readonly maxBufferBytes: number,
    r: Recovered,
  ) {
    this.recovered = r.state;
    this.logSize = r.logSize;
    this.snapshotSize = r.snapshotSize;
    this.logRecords = r.state.updates.length;
  }

  /** Same as openFileStorage(). */
  static async open(dir: string, opts: FileStorageOptions = {}): Promise<FileStorage> {
    const logger = resolveLogger(opts, consoleWarnings);
    const say = (msg: string): void => logger.log('warn', msg);
    const maxBufferBytes = opts.maxBufferBytes ?? 4 * 1024 * 1024;
    const abs = resolve(dir);
    if (openDirs.has(abs)) {
      throw new MeshError('DATA_DIR_LOCKED', `data dir ${dir} is in use by pid ${process.pid} (this process)`, { dir });
    }
    openDirs.add(abs);
    try {
      await mkdir(abs, { recursive: true });
      const lockPath = await acquireLock(abs, dir, say);
      try {
        const r = await recover(abs, logger);
        const fh = await open(join(abs, LOG_FILE), 'r+');
        return new FileStorage(abs, fh, lockPath, logger, maxBufferBytes, r);
      } catch (e) {
        await unlink(lockPath).catch(noop);
        throw e;
      }
    } catch (e) {
      openDirs.delete(abs);
      throw e;
    }
  }

  /** Runs disk steps one at a time, in call order; refuses once a write has failed. */
  private exclusive<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure) throw this.failure;
      return step();
    });
    this.queue = run.catch(noop);
    return run;
  }

  private fail(e: unknown, what: string): never {
    this.failure = e instanceof Error ? e : new Error(String(e));
    this.logger.log('warn', `${join(this.dir, LOG_FILE)}: ${what} failed, storage stops accepting work: ${this.failure.message}`);
    throw this.failure;
  }

  load(): Promise<LoadedState> {
    if (this.closing) return Promise.reject(closedError());
    return this.exclusive(async () => {
      const first = this.recovered;
      if (first) {
        this.recovered = null;
        return first;
      }
      const r = await recover(this.dir, this.logger);
      await this.fh.close();
      this.fh = await open(join(this.dir, LOG_FILE), 'r+');
      this.logSize = r.logSize;
      this.snapshotSize = r.snapshotSize;
      this.logRecords = r.state.updates.length;
      return r.state;
    });
  }

  append(update: Uint8Array): void {
    if (this.closing) throw closedError();
    if (this.failure) throw this.failure;
    const record = encodeRecord(update);
    this.batch.push(record);
    this.unwrittenBytes += record.length;
    this.unwrittenRecords++;
    if (this.unwrittenBytes > this.maxBufferBytes && !this.scheduled) this.flushAll().catch(noop);
  }

  flush(): Promise<void> {
    if (this.closing) return Promise.reject(closedError());
    return this.flushAll();
  }

  private flushAll(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.scheduled) return this.scheduled;
    if (this.batch.length === 0) return this.lastWrite;
    const batch = this.batch;
    const write: Promise<void> = this.exclusive(async () => {
      if (this.batch === batch) this.batch = []; // later appends go to the next write
      if (this.scheduled === write) this.scheduled = null;
      await this.writeRecords(batch);
    });
    this.scheduled = write;
    this.lastWrite = write;
    return write;
  }

  private async writeRecords(records: Uint8Array[]): Promise<void> {
    const bytes = Buffer.concat(records);
    try {
      await writeAll(this.fh, bytes, this.logSize);
      await this.fh.datasync();
    } catch (e) {
      this.fail(e, 'log write');
    }
    this.logSize += bytes.length;
    this.logRecords += records.length;
    this.unwrittenBytes -= bytes.length;
    this.unwrittenRecords -= records.length;
  }

  async compact(snapshot: Uint8Array, ready?: PromiseLike<unknown>): Promise<void> {
    // Observed at once: a rejection while the flush below runs must not go unhandled.
    const waited = ready === undefined ? undefined : Promise.resolve(ready);
    waited?.catch(noop);
    if (this.closing) throw closedError();
    const encoded = encodeSnapshot(snapshot);
    const flushed = this.flushAll(); // every append so far; the snapshot covers them
    // Seal: appends from now on go to later writes, and stay in the log after the snapshot.
    this.batch = [];
    this.scheduled = null;
    if (waited === undefined) {
      const compacted = this.exclusive(() => this.replaceBySnapshot(encoded));
      await flushed;
      await compacted;
      return;
    }
    // Where the log stands once the sealed appends are on disk (no write comes between).
    const seal = this.exclusive(async (): Promise<Seal> => this.seals.seal(this.logSize, this.logRecords));
    await flushed;
    const at = await seal;
    // Meanwhile later appends are written to the log as usual; the snapshot replaces only the sealed part.
    await waited;
    await this.exclusive(async () => {
      // A close began meanwhile: the log keeps everything, and the caller learns nothing was compacted.
      if (this.closing) throw closedError();
      await this.replaceBySnapshot(encoded, at);
    });
  }

  /**
   * Each step leaves a loadable state: old snapshot + log, then new snapshot + old log, then new
   * snapshot alone (or with the log's records after `seal`, copied into a new log file that
   * replaces the old one atomically). A failure before that rename leaves new snapshot + old log,
   * which loads: it rejects the compaction and the storage goes on.
   */
  private async replaceBySnapshot(encoded: Uint8Array, seal?: Seal): Promise<void> {
    // Where the log is cut: everything (no seal), or up to the seal.
    const cut = this.seals.cut(seal ?? this.seals.seal(this.logSize, this.logRecords));
    if (!cut) return; // a later compaction already replaced more, with a newer snapshot
    const snapPath = join(this.dir, SNAPSHOT_FILE);
    const tmpPath = join(this.dir, SNAPSHOT_TMP);
    try {
      await writeDurable(tmpPath, encoded);
      await rename(tmpPath, snapPath);
    } catch (e) {
      await unlink(tmpPath).catch(noop);
      throw e; // nothing changed on disk that matters; the storage stays usable
    }
    this.snapshotSize = encoded.length;
    const tail = this.logSize - cut.bytes;
    try {
      await fsyncDir(this.dir); // the rename must be durable before the log is emptied
    } catch (e) {
      this.fail(e, 'compaction');
    }
    const logPath = join(this.dir, LOG_FILE);
    const logTmp = join(this.dir, LOG_TMP);
    if (tail > 0) {
      try {
        await writeDurable(logTmp, Buffer.concat([LOG_MAGIC, await readAll(this.fh, tail, cut.bytes)]));
      } catch (e) {
        await unlink(logTmp).catch(noop);
        throw e; // new snapshot + old log on disk: it loads; the storage stays usable
      }
    }
    try {
      if (tail === 0) {
        await this.fh.truncate(LOG_MAGIC.length);
        await this.fh.datasync();
      } else {
        await rename(logTmp, logPath);
        await fsyncDir(this.dir);
        await this.fh.close();
        this.fh = await open(logPath, 'r+');
      }
    } catch (e) {
      this.fail(e, 'compaction');
    }
    this.seals.dropped(cut);
    this.logSize = LOG_MAGIC.length + tail;
    this.logRecords -= cut.records;
  }

  stats(): StorageStats {
    return {
      logBytes: this.logSize,
      snapshotBytes: this.snapshotSize,
      logRecords: this.logRecords,
      pendingRecords: this.unwrittenRecords,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    try {
      await this.flushAll();
      await this.queue; // e.g. a compaction queued behind the last write
    } finally {
      await this.fh.close().catch(noop);
      await unlink(this.lockPath).catch(noop);
      openDirs.delete(this.dir);
    }
  }
}

/** Opens (creating if needed) the data dir, takes its LOCK and recovers what is on disk. */
export function openFileStorage(dir: string, opts: FileStorageOptions = {}): Promise<FileStorage> {
  return FileStorage.open(dir, opts);
}
export * from './node-archive.js';
export * from './dir-bytes.js';
