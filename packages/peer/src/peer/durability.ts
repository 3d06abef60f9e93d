// What makes a peer's writes durable: replaying its storage into the document at start, appending
// every local update to the log, group-committing (fsync) on the main loop's beat, compacting the
// log into a snapshot, and logging a whole new generation behind a marker record. It owns the
// write and durable sequence numbers that `submit` and agents' data writes wait on. A damaged log
// record costs that record only: the gap it leaves in the document's history is filled (see
// update-gaps.ts) at once on a lone peer, or after catch-up when no other peer supplied it.

import * as Y from 'yjs';
import { encodeGapFiller, encodeGenerationRecord, fillMissingClocks, generationRecordPayload, isGenerationRecord, namesInDamagedUpdate, type ClockGap, type LogDamage, type Storage } from '@agentmesh/crdt-store';
import { STORAGE_ORIGIN } from '../sync/wire.js';
import type { LiveDocument } from './live-document.js';
import type { PeerContext } from './context.js';

export interface Replayed {
  /** Records and snapshots read back. */
  replayed: number;
  /** Bytes of everything read back (an upper estimate of the encoded document). */
  bytes: number;
}

export class Durability {
  private writeSeq = 0;
  private durableSeq = 0;
  private lastFlush = -Infinity;
  private flushing: Promise<void> | undefined;
  /** Compactions under way (one waits for archive writes while the flushes go on). */
  private compactions = 0;
  /** After an automatic compaction failed: the log's length at which the next one is tried. */
  private compactRetryAt = 0;
  /** What the storage repaired when it was loaded (cut tails, snapshots moved aside). */
  loadWarnings: string[] = [];
  /** Clocks lost with damaged log records that logged updates wait for, and when to give up on them. */
  private lost: { gaps: ClockGap[]; at: number } | undefined;
  /** The state vector of what is on disk, and the generation it belongs to (see `durable`). */
  private durableState: { generation: string; sv: Uint8Array } = { generation: '', sv: new Uint8Array([0]) };
  private readonly onUpdate = (u: Uint8Array, origin: unknown) => {
    if (origin === STORAGE_ORIGIN || this.ctx.stopped()) return;
    this.storage.append(u);
    this.writeSeq++;
  };

  constructor(
    private readonly ctx: PeerContext,
    private readonly storage: Storage,
    private readonly live: LiveDocument,
    /** Resolves when what a compaction would drop from the log is safe elsewhere (the archive). */
    private readonly beforeCompact: () => Promise<void> = async () => {},
  ) {}

  /** The live document was replaced: log the new one's updates from now on. */
  follow(doc: Y.Doc, previous: Y.Doc): void {
    this.lost = undefined; // gaps of the old generation's history
    previous.off('update', this.onUpdate);
    doc.on('update', this.onUpdate);
  }

  /**
   * Reads the storage back into the live document. A generation change logs the whole new
   * document behind a marker; what came before it in the log belongs to the old generation (until
   * a compaction removes it) and is skipped. Then every later update of the document is logged.
   */
  async load(): Promise<Replayed> {
    const doc = this.live.doc;
    const loaded = await this.storage.load();
    // The storage reports damage through its own log as it repairs it; keep the list for callers.
    this.loadWarnings = loaded.warnings;
    const replay = (u: Uint8Array, what: string) => {
      try {
        Y.applyUpdate(doc, u, STORAGE_ORIGIN);
      } catch (e) {
        this.ctx.log.log('warn', `skipped unreadable ${what} from storage`, { error: (e as Error).message });
      }
    };
    let from = 0;
    for (let i = loaded.updates.length - 1; i >= 0; i--) {
      if (isGenerationRecord(loaded.updates[i]!)) {
        from = i;
        break;
      }
    }
    const marked = from > 0 || (loaded.updates[0] !== undefined && isGenerationRecord(loaded.updates[0]));
    if (loaded.snapshot && !marked) replay(loaded.snapshot, 'snapshot');
    for (const u of loaded.updates.slice(from)) replay(isGenerationRecord(u) ? generationRecordPayload(u) : u, 'update');
    this.settleLost(loaded.lost ?? []);
    let bytes = loaded.snapshot?.byteLength ?? 0;
    for (const u of loaded.updates) bytes += u.byteLength;
    return { replayed: loaded.updates.length + (loaded.snapshot ? 1 : 0), bytes };
  }

  /**
   * Names what each damaged record held (its tasks, as far as its bytes still decode). Updates read
   * back that wait for clocks lost with a damaged record: a lone peer fills the gap
   * now (the lost record's content is gone, the rest applies); a peer that knows others gives them
   * until catch-up to send what was lost, then fills what is still missing (maybeFlush).
   */
  private settleLost(lost: readonly LogDamage[]): void {
    for (const d of lost) {
      // Which tasks it held, as far as the damaged bytes still tell.
      const n = d.payload ? namesInDamagedUpdate(d.payload) : undefined;
      const names = n && { tasks: n.created.slice(0, 100), touched: n.touched.slice(0, 100), entries: n.entries.slice(0, 20), generation: n.generation };
      this.ctx.log.log('warn', 'could not read a damaged log record', { bytes: `${d.offset}..${d.offset + d.bytes}`, records: d.records, ...names });
    }
    const doc = this.live.doc;
    const lostRecords = lost.reduce((sum, d) => sum + d.records, 0);
    // Only after the storage lost records: a gap kept in a snapshot from the network is the sync's.
    if (lostRecords === 0 || !doc.store.pendingStructs) return;
    const scratch = new Y.Doc(); // every gap, without touching the live document yet
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(doc));
    const gaps = fillMissingClocks(scratch, null).sort((a, b) => a.client - b.client || a.from - b.from);
    if (gaps.length === 0) return;
    const lone = !this.live.board.peers().some((p) => p.id !== this.ctx.id);
    const clocks = gaps.map((g) => `${g.client}:${g.from}..${g.to}`).join(' ');
    this.ctx.log.log('warn', 'updates read from storage wait for lost ones', { lostRecords, clocks, lone });
    this.lost = { gaps, at: lone ? -Infinity : this.ctx.clock.now() + this.ctx.timing.catchUpMs };
    if (lone) this.fillLost();
  }

  /** Fills the lost clocks no peer supplied (only those), logging the filler so a restart needs no repeat. */
  private fillLost(): void {
    const gaps = this.lost?.gaps ?? [];
    this.lost = undefined;
    const doc = this.live.doc;
    const given: string[] = [];
    for (const g of gaps) {
      const state = Y.getState(doc.store, g.client);
      if (state < g.from || state >= g.to) continue; // a peer sent it (or an earlier gap is still open)
      const filler = encodeGapFiller([{ client: g.client, from: state, to: g.to }]);
      Y.applyUpdate(doc, filler, STORAGE_ORIGIN);
      this.storage.append(filler);
      this.writeSeq++;
      given.push(`${g.client}:${state}..${g.to}`);
    }
    if (given.length > 0) this.ctx.log.log('warn', 'gave up updates lost with damaged log records; the updates after them now apply', { clocks: given.join(' ') });
  }

  /**
   * What this peer holds on disk: the state vector of the document as of the last completed flush,
   * and its generation's name. Archival waits until every known peer holds a task durably, so a
   * peer that crashes cannot come back without facts the others already archived.
   */
  get durable(): { generation: string; sv: Uint8Array } {
    return this.durableState;
  }

  /** From now on, every local update of the live document goes to the log. */
  hook(): void {
    this.durableState = { generation: this.live.name, sv: Y.encodeStateVector(this.live.doc) };
    this.live.doc.on('update', this.onUpdate);
  }

  /**
   * Logs a whole new generation's document at once, behind a marker, so a crash before the next
   * compaction restarts with it (and without the old generation logged before it).
   */
  logGeneration(snapshot: Uint8Array): void {
    this.storage.append(encodeGenerationRecord(snapshot));
    this.writeSeq++;
  }

  /** True while updates wait for the group commit, or lost clocks wait to be filled. */
  get pending(): boolean {
    return this.durableSeq < this.writeSeq || this.lost !== undefined;
  }

  /** The main loop's group commit: a flush when updates wait and the flush period has passed. */
  maybeFlush(now: number): void {
    if (this.lost && now >= this.lost.at) this.fillLost();
    if (now - this.lastFlush >= this.ctx.timing.flushMs && this.durableSeq < this.writeSeq) {
      this.lastFlush = now;
      void this.flush().catch((e) => this.ctx.log.log('error', 'storage flush failed', { error: (e as Error).message }));
    }
  }

  /** Makes every update so far durable; resolves when it is on disk. */
  async flush(): Promise<void> {
    const target = this.writeSeq;
    while (this.durableSeq < target) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      const upTo = this.writeSeq;
      // Every update the document took so far is in the log: once flushed, this is on disk.
      const state = { generation: this.live.name, sv: Y.encodeStateVector(this.live.doc) };
      this.flushing = this.storage.flush().then(() => {
        if (upTo > this.durableSeq) {
          this.durableSeq = upTo;
          this.durableState = state;
          this.ctx.emit('durable', { seq: upTo });
        }
      });
      try {
        await this.flushing;
      } finally {
        this.flushing = undefined;
      }
      // One at a time from here: the log stays long until a compaction ends, and each flush meanwhile would start another.
      const logRecords = this.storage.stats().logRecords;
      if (!this.ctx.stopped() && this.compactions === 0 && logRecords >= this.ctx.timing.compactEveryRecords && logRecords >= this.compactRetryAt) await this.autoCompact(logRecords);
    }
  }

  /**
   * The compaction a flush starts when the log is long. Its failure (an archive write that failed
   * again, a disk error) is logged, not the flush's: what the flush wrote is on disk, and the log
   * keeps everything. The next try waits until the log has grown by as much again.
   */
  private async autoCompact(logRecords: number): Promise<void> {
    try {
      await this.compact();
    } catch (e) {
      if (this.ctx.stopped()) return;
      this.compactRetryAt = logRecords + this.ctx.timing.compactEveryRecords;
      this.ctx.log.log('warn', 'log compaction failed; the log is kept whole and compacted later', { error: (e as Error).message, logRecords, retryAt: this.compactRetryAt });
    }
  }

  /**
   * Folds the update log into one snapshot of the whole document. Tasks deleted (archived) since
   * the last compaction are only in the log until their archive writes are done: the log is sealed
   * now, with a snapshot of the document now, and the snapshot replaces the sealed part once the
   * archive writes issued so far are done. What is logged meanwhile (a task deleted meanwhile, a
   * new generation behind its marker) stays in the log after the snapshot, and the flushes
   * meanwhile are not held up.
   */
  async compact(): Promise<void> {
    this.compactions++;
    try {
      await this.storage.compact(Y.encodeStateAsUpdate(this.live.doc), this.beforeCompact());
      this.compactRetryAt = 0;
    } finally {
      this.compactions--;
    }
  }

  /** The storage sequence of the latest update (for durability tracking). */
  get lastWriteSeq(): number {
    return this.writeSeq;
  }

  get lastDurableSeq(): number {
    return this.durableSeq;
  }

  async close(): Promise<void> {
    await this.storage.close();
  }
}
