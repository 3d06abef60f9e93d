// What the file storage does with its files when it opens (Node only): read snapshot and log,
// and repair what a crash or a bad disk left behind without destroying anything readable. A torn
// log tail is cut in place; any other damage first keeps a copy of the damaged log
// (log.bin.corrupt-<n>), then the log is replaced, atomically, by one holding every readable
// record. A corrupt snapshot is moved aside. Plus the small file helpers the storage shares.

import { access, copyFile, constants as fsConstants, link, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@agentmesh/scheduler';
import { LOG_MAGIC, decodeSnapshot } from './log-codec.js';
import { planLogRepair } from './log-reader.js';
import type { LoadedState } from './storage.js';

export const LOG_FILE = 'log.bin';
export const SNAPSHOT_FILE = 'snapshot.bin';
export const SNAPSHOT_TMP = 'snapshot.bin.tmp';
export const LOG_TMP = 'log.bin.tmp';

export const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

export async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return null;
    throw e;
  }
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

export async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Reads `length` bytes at `position` (short reads retried; the bytes must exist). */
export async function readAll(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += bytesRead;
  }
  return out;
}

/** Writes a whole file and fsyncs it (the directory entry is the caller's business). */
export async function writeDurable(path: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await writeAll(fh, bytes, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes renames/creations in `dir` durable. Windows cannot fsync a directory; there it is a no-op. */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces `path` by `bytes` atomically (tmp file, fsync, rename, fsync of the directory). */
async function replaceDurably(dir: string, path: string, tmp: string, bytes: Uint8Array): Promise<void> {
  await writeDurable(tmp, bytes);
  await rename(tmp, path);
  await fsyncDir(dir);
}

/** The first free `<path>.corrupt-<n>`, handed to `take` (which fails with EEXIST if it is taken meanwhile). */
async function firstFree(path: string, take: (aside: string) => Promise<void>): Promise<string> {
  for (let n = 1; ; n++) {
    const aside = `${path}.corrupt-${n}`;
    if (await access(aside).then(() => true, () => false)) continue;
    try {
      await take(aside);
      return aside;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
  }
}

/** Renames a damaged file to `<path>.corrupt-<n>` (first free n) so nothing is destroyed. */
async function setAside(dir: string, path: string): Promise<string> {
  const aside = await firstFree(path, (to) => rename(path, to));
  await fsyncDir(dir);
  return aside;
}

/**
 * Keeps a durable copy of `path` as `<path>.corrupt-<n>` and leaves `path` in place: a hard link
 * where the filesystem has them (instant; the caller must then replace `path`, never write into
 * it), a copy otherwise.
 */
async function keepCopy(dir: string, path: string): Promise<string> {
  const aside = await firstFree(path, async (to) => {
    try {
      await link(path, to);
    } catch (e) {
      if (errno(e) === 'EEXIST') throw e;
      await copyFile(path, to, fsConstants.COPYFILE_EXCL);
      const fh = await open(to, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  });
  await fsyncDir(dir);
  return aside;
}

export interface Recovered {
  state: LoadedState;
  logSize: number;
  snapshotSize: number;
}

/**
 * Reads snapshot and log, repairing damage with warnings (each also said through `logger` at
 * 'warn'): a torn tail is cut, a damaged log is copied aside and rewritten with every readable
 * record, a corrupt snapshot is moved aside, a missing log is created.
 */
export async function recover(dir: string, logger: Logger): Promise<Recovered> {
  const warnings: string[] = [];
  const warn = (msg: string): void => {
    warnings.push(msg);
    logger.log('warn', msg);
  };
  const logPath = join(dir, LOG_FILE);
  const snapPath = join(dir, SNAPSHOT_FILE);

  // A leftover tmp is a compaction or a log repair that never reached its rename: the old file rules.
  await unlinkIfExists(join(dir, SNAPSHOT_TMP));
  await unlinkIfExists(join(dir, LOG_TMP));

  let snapshot: Uint8Array | null = null;
  let snapshotSize = 0;
  const snapBytes = await readOrNull(snapPath);
  if (snapBytes) {
    try {
      snapshot = decodeSnapshot(snapBytes);
      snapshotSize = snapBytes.length;
    } catch (e) {
      const aside = await setAside(dir, snapPath);
      warn(`${snapPath}: ${(e as Error).message}; moved it to ${aside}, continuing with the log alone`);
    }
  }

  const bytes = (await readOrNull(logPath)) ?? new Uint8Array(0);
  const plan = planLogRepair(bytes);
  const aside = plan.keepCopy ? await keepCopy(dir, logPath) : null;
  for (const note of plan.notes) warn(`${logPath}: ${note}`);
  const action = plan.action;
  if (action.kind === 'create') {
    await replaceDurably(dir, logPath, join(dir, LOG_TMP), LOG_MAGIC);
  } else if (action.kind === 'rewrite') {
    await replaceDurably(dir, logPath, join(dir, LOG_TMP), action.bytes);
    if (!aside) logger.log('info', `${logPath}: converted the log from format ${plan.fromVersion} to format 2 (${plan.records.length} records)`);
  } else if (action.kind === 'truncate') {
    const fh = await open(logPath, 'r+');
    try {
      await fh.truncate(action.to);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  if (aside) {
    warn(`${logPath}: kept the damaged log as ${aside}; the log now holds the ${plan.records.length} readable records`);
  }
  const state: LoadedState = { snapshot, updates: plan.records, warnings };
  if (plan.lost.length > 0) state.lost = plan.lost;
  return { state, logSize: plan.size, snapshotSize };
}
