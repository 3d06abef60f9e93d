// The local archive: finished tasks that left the live document, kept by each peer (its spec,
// every fact, and the outcome) so `agentmesh get ID` and `status` still see them, and so a task
// that comes back into the live document without its outcome can be given it again. This file has
// the contract, the record shape, a Bloom filter for "might it be archived?" and the in-memory
// archive of the simulator; the file archive (SQLite, with indexes for list and search) is in
// node-archive.ts, what a list shows of a record in archive-summary.ts.

import { hash32, type TaskFacts } from '@agentmesh/scheduler';
import type { TaskRecord } from './board-types.js';
import { compareSummaries, matchesQuery, summarizeRecord, type ArchiveQuery, type ArchiveQueryResult, type ArchiveSummary } from './archive-summary.js';

export type ArchivedState = 'done' | 'dead' | 'cancelled';

export interface ArchiveRecord extends TaskRecord {
  state: ArchivedState;
  /** Latest fact time (writers' clocks). */
  finishedAt: number;
  /** The canonical result when done (null otherwise). */
  result: unknown;
  /** Peer that produced the canonical result. */
  peer: string | null;
  /** Attempts (rounds) it took. */
  attempts: number;
  /** Generation (encoded) whose start archived it. */
  gen: string;
  /** This peer's clock when archived. */
  archivedAt: number;
  /**
   * Archived while some known peer was not waited for (away longer than the archival waits): that
   * peer may hold runs of the task this record lacks, so a branch merge puts the task back live.
   */
  partial?: boolean;
}

export interface ArchiveCounts {
  done: number;
  dead: number;
  cancelled: number;
  total: number;
}

/** An archived task as status counts it. */
export interface ArchivedCount {
  state: ArchivedState;
  duplicates: number;
}

export interface Archive {
  /**
   * Stores records; durable once the promise resolves. A later record of the same id wins.
   * `parsed`: the facts of some of them as factsFromRecord gives them, when the caller has them
   * already (the file archive then does not parse them again for the row's summary).
   */
  append(records: ArchiveRecord[], parsed?: ReadonlyMap<ArchiveRecord, TaskFacts>, sheets?: ReadonlyMap<string, Uint8Array>): Promise<void>;
  /**
   * The bytes of a batch that archived records refer to (`segs/<key>` or `acts/<key>`: their
   * batch entries hold a SigRef instead of a carried signature), as `append` was given them; what
   * TaskBoard.signedRecords needs to write such a record back signed.
   */
  sheet?(key: string): Uint8Array | undefined;
  /** The latest record of a task, if archived. */
  get(id: string): ArchiveRecord | undefined;
  /** Records archived when this peer entered generation `gen` (encoded name). */
  byGeneration(gen: string): ArchiveRecord[];
  /** False when the task was surely never archived here (cheap, in memory). */
  mightHave(id: string): boolean;
  /** Is the task archived here? (What `get(id) !== undefined` says, without making its record.) */
  has(id: string): boolean;
  counts(): ArchiveCounts;
  /** Bytes the archive takes (on disk for the file archive). */
  bytes(): number;
  close(): Promise<void>;
  /** Searches the archived tasks (filters, order, one page); archives made before it may lack it. */
  query?(q: ArchiveQuery): ArchiveQueryResult;
  /** Duplicate runs (successful runs other than the canonical one) of every archived task. */
  duplicateRuns?(): number;
  /** The summary of one archived task (what a list shows of it). */
  summary?(id: string): ArchiveSummary | undefined;
  /**
   * The state and duplicate runs of one archived task: what status counts. The file archive answers
   * it without making the record (a summary of a task waiting in a unit row decodes its batches).
   */
  counted?(id: string): ArchivedCount | undefined;
  /** Archived tasks that depend on `id`. */
  dependents?(id: string): string[];
}

/** A fixed-size Bloom filter over task ids (no false negatives). */
export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly m: number;

  constructor(
    bitCount = 1 << 23,
    private readonly k = 6,
  ) {
    this.m = bitCount;
    this.bits = new Uint32Array(Math.ceil(bitCount / 32));
  }

  // Positions a + i*b (mod m), i < k, computed in the loops below: no generator (a peer asks
  // about tens of thousands of ids a second under load, and each generator was an allocation).

  add(id: string): void {
    const a = hash32(id, 0x9e3779b1) >>> 0;
    const b = (hash32(id, 0x85ebca6b) | 1) >>> 0;
    for (let i = 0; i < this.k; i++) {
      const p = (a + i * b) % this.m;
      this.bits[p >>> 5]! |= 1 << (p & 31);
    }
  }

  has(id: string): boolean {
    const a = hash32(id, 0x9e3779b1) >>> 0;
    const b = (hash32(id, 0x85ebca6b) | 1) >>> 0;
    for (let i = 0; i < this.k; i++) {
      const p = (a + i * b) % this.m;
      if ((this.bits[p >>> 5]! & (1 << (p & 31))) === 0) return false;
    }
    return true;
  }
}

export function emptyCounts(): ArchiveCounts {
  return { done: 0, dead: 0, cancelled: 0, total: 0 };
}

/** Counts a record that is new to the archive (not a later record of an archived id). */
export function countRecord(c: ArchiveCounts, r: ArchiveRecord): void {
  c[r.state]++;
  c.total++;
}

/** Checks a record read back from disk or built elsewhere. */
export function isArchiveRecord(x: unknown): x is ArchiveRecord {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.id === 'string' &&
    (r.state === 'done' || r.state === 'dead' || r.state === 'cancelled') &&
    typeof r.finishedAt === 'number' &&
    typeof r.facts === 'object' &&
    r.facts !== null &&
    typeof r.gen === 'string'
  );
}

/** The simulator's and unit tests' archive: records in a map (survives a simulated crash if kept by the caller). */
export class MemoryArchive implements Archive {
  private readonly records = new Map<string, ArchiveRecord>();
  /** Summaries, made when first asked for (the simulator never asks). */
  private readonly summaries = new Map<string, ArchiveSummary>();
  private readonly c = emptyCounts();
  private readonly sheets = new Map<string, Uint8Array>();
  private size = 0;

  async append(records: ArchiveRecord[], _parsed?: ReadonlyMap<ArchiveRecord, TaskFacts>, sheets?: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const [k, bytes] of sheets ?? []) {
      if (this.sheets.has(k)) continue;
      this.sheets.set(k, bytes);
      this.size += bytes.length;
    }
    for (const r of records) {
      if (!this.records.has(r.id)) countRecord(this.c, r);
      else {
        const old = this.records.get(r.id)!;
        this.c[old.state]--;
        this.c[r.state]++;
      }
      this.records.set(r.id, r);
      this.summaries.delete(r.id);
      this.size += JSON.stringify(r).length + 1;
    }
  }

  summary(id: string): ArchiveSummary | undefined {
    let s = this.summaries.get(id);
    if (s) return s;
    const r = this.records.get(id);
    if (!r) return undefined;
    s = summarizeRecord(r);
    this.summaries.set(id, s);
    return s;
  }

  query(q: ArchiveQuery): ArchiveQueryResult {
    const all: ArchiveSummary[] = [];
    for (const id of this.records.keys()) {
      const s = this.summary(id)!;
      if (matchesQuery(s, q)) all.push(s);
    }
    all.sort(compareSummaries(q.sort ?? 'created', q.desc ?? true));
    const offset = q.offset ?? 0;
    return { rows: all.slice(offset, offset + (q.limit ?? 50)), total: all.length };
  }

  duplicateRuns(): number {
    let n = 0;
    for (const id of this.records.keys()) n += this.summary(id)!.duplicates;
    return n;
  }

  dependents(id: string): string[] {
    const out: string[] = [];
    for (const k of this.records.keys()) if (this.summary(k)!.dependsOn.includes(id)) out.push(k);
    return out;
  }

  get(id: string): ArchiveRecord | undefined {
    return this.records.get(id);
  }

  sheet(key: string): Uint8Array | undefined {
    return this.sheets.get(key);
  }

  mightHave(id: string): boolean {
    return this.records.has(id);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  byGeneration(gen: string): ArchiveRecord[] {
    return [...this.records.values()].filter((r) => r.gen === gen);
  }

  counts(): ArchiveCounts {
    return { ...this.c };
  }

  bytes(): number {
    return this.size;
  }

  ids(): IterableIterator<string> {
    return this.records.keys();
  }

  async close(): Promise<void> {}
}
