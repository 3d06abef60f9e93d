// The file archive's writer thread, seen from the peer's event loop. Under load the archive's
// SQLite inserts and commits were a fifth of the long busy stretches of a peer's loop, and every
// submit that arrived meanwhile waited for them (the p99 under load). On a thread of their own at
// the lowest CPU priority (archive-writer-thread.ts; Linux gives each thread its own nice value)
// they use a core only when the loops leave one idle. The loop makes each unit row (one per
// append); a write resolves once its transaction is committed and fsynced.

import { Worker } from 'node:worker_threads';
import type { WriterReply, WriterRequest } from './archive-writer-thread.js';
import type { MadeUnit } from './archive-unit-rows.js';

/**
 * The thread's script: the built file next to this one. Under vitest this module runs from src
 * (TypeScript, which a worker cannot load), so the thread runs the built file in dist.
 */
function threadScript(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('../dist/archive-writer-thread.js', import.meta.url) : new URL('./archive-writer-thread.js', import.meta.url);
}

/**
 * The thread's young generation: it holds one unit row at a time, so a small one is enough
 * (by default it is sized like a peer's loop, and the thread's RSS with it). The old generation is
 * left unbounded: a chunk of 64 rows of large results can be tens of MB.
 */
const WRITER_HEAP = { maxYoungGenerationSizeMb: 4 };

export class ArchiveWriter {
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (reply: WriterReply) => void; reject: (e: Error) => void }>();
  private gone: Error | undefined;

  /** Starts the thread on the database file at `path` (already opened, checked and salvaged by the archive). */
  constructor(path: string) {
    this.worker = new Worker(threadScript(), { workerData: { path }, resourceLimits: WRITER_HEAP });
    // An idle archive left open does not keep the process alive; a write under way does.
    this.worker.unref();
    this.worker.on('message', (m: WriterReply) => {
      const w = this.waiting.get(m.seq);
      this.waiting.delete(m.seq);
      if (this.waiting.size === 0) this.worker.unref();
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the writer thread exited (code ${code})`)));
  }

  /** Commits a unit row (its seq and body) and sheets in one transaction on the thread; resolves once on disk. */
  async writeUnit(seq: number, body: string, sheets: [string, Uint8Array][]): Promise<void> {
    // A view into a larger buffer (a sheet is a slice of a received update) would be cloned with
    // the whole buffer: such a sheet crosses as a copy of its own bytes.
    const own = sheets.map(([key, b]): [string, Uint8Array] => [key, b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice()]);
    await this.send({ unit: body, unitSeq: seq, sheets: own });
  }

  /** Makes the search rows of unit rows `seqs` on the thread; resolves with what it made (and its warnings). */
  async makeRows(seqs: number[]): Promise<{ made: MadeUnit[]; warnings: string[] }> {
    const r = await this.send({ make: seqs });
    return { made: r.made ?? [], warnings: r.warnings ?? [] };
  }

  /** True once the thread is gone (it died, or was closed): it takes no more writes. */
  get failed(): boolean {
    return this.gone !== undefined;
  }

  private send(what: Omit<WriterRequest, 'seq'>): Promise<WriterReply> {
    if (this.gone) return Promise.reject(this.gone);
    const seq = ++this.seq;
    return new Promise<WriterReply>((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(seq, { resolve, reject });
      this.worker.postMessage({ seq, ...what } satisfies WriterRequest);
    });
  }

  /** Closes the thread's connection and ends the thread (what was written before is committed). */
  async close(): Promise<void> {
    if (this.gone) return;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.ref();
    this.worker.postMessage('close' satisfies WriterRequest | 'close');
    await exited;
  }

  private fail(e: Error): void {
    this.gone ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}
