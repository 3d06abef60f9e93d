// The file archive of a peer (Node only): finished tasks that left the live document, as JSON lines
// in 256 bucket files chosen by a hash of the task id, so reading one task reads one small file and
// nothing grows in memory but a fixed-size Bloom filter. Appends are fsynced before the peer drops
// the tasks from its document; a torn last line (kill -9 mid-write) is cut on open with a warning.

import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { appendFile, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash32, resolveLogger, type Logger } from '@agentmesh/scheduler';
import { BloomFilter, countRecord, emptyCounts, isArchiveRecord, type Archive, type ArchiveCounts, type ArchiveRecord } from './archive.js';

const BUCKETS = 256;
const COUNTS_FILE = 'counts.json';

export interface FileArchiveOptions {
  /** Receives warnings (a cut torn line, a skipped unreadable line) at level 'warn' (default: console.warn). */
  logger?: Logger;
}

/** Without a logger, warnings go to the console as they always did. */
const consoleWarnings: Logger = { log: (_level, msg) => console.warn(msg) };

function genFile(gen: string): string {
  return `gen-${gen.replace(/[^A-Za-z0-9.-]/g, '_')}.ids`;
}

function bucketOf(id: string): string {
  return `b-${(hash32(id, 0x5bd1e995) % BUCKETS).toString(16).padStart(2, '0')}.jsonl`;
}

export class FileArchive implements Archive {
  private readonly bloom = new BloomFilter();
  private c: ArchiveCounts = emptyCounts();
  private total = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Records appended but not yet on disk (get() must see them). */
  private readonly pending = new Map<string, ArchiveRecord>();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {}

  static open(dir: string, opts: FileArchiveOptions = {}): FileArchive {
    const a = new FileArchive(dir, resolveLogger(opts, consoleWarnings));
    mkdirSync(dir, { recursive: true });
    a.load();
    return a;
  }

  private load(): void {
    const counts = emptyCounts();
    const latest = new Map<string, ArchiveRecord['state']>();
    for (const name of readdirSync(this.dir)) {
      if (!/^b-[0-9a-f]{2}\.jsonl$/.test(name)) continue;
      const path = join(this.dir, name);
      const buf = readFileSync(path);
      let good = buf.lastIndexOf(0x0a) + 1;
      if (good < buf.length) {
        this.logger.log('warn', `archive ${name}: cut a torn last line (${buf.length - good} bytes)`);
        truncateSync(path, good);
      }
      const text = buf.subarray(0, good).toString('utf8');
      let start = 0;
      while (start < text.length) {
        const end = text.indexOf('\n', start);
        const line = text.slice(start, end);
        start = end + 1;
        try {
          const r = JSON.parse(line) as unknown;
          if (!isArchiveRecord(r)) throw new Error('not an archive record');
          this.bloom.add(r.id);
          latest.set(r.id, r.state);
        } catch (e) {
          this.logger.log('warn', `archive ${name}: skipped an unreadable line (${(e as Error).message})`);
        }
      }
      this.total += good;
    }
    for (const state of latest.values()) {
      counts[state]++;
      counts.total++;
    }
    this.c = counts;
  }

  append(records: ArchiveRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('archive is closed'));
    for (const r of records) {
      const prev = this.pending.get(r.id) ?? (this.bloom.has(r.id) ? this.readLatest(r.id) : undefined);
      if (prev) {
        this.c[prev.state]--;
        this.c[r.state]++;
      } else countRecord(this.c, r);
      this.pending.set(r.id, r);
      this.bloom.add(r.id);
    }
    const batch = records.slice();
    const run = async () => {
      const byBucket = new Map<string, string[]>();
      for (const r of batch) {
        const b = bucketOf(r.id);
        let list = byBucket.get(b);
        if (!list) byBucket.set(b, (list = []));
        const { id, ...rest } = r;
        list.push(JSON.stringify({ id, ...rest }) + '\n');
      }
      // Asynchronous writes and fsyncs (the thread pool), so a large archive batch does not stall
      // the peer's event loop; a few buckets at a time.
      const entries = [...byBucket];
      for (let i = 0; i < entries.length; i += 8) {
        await Promise.all(
          entries.slice(i, i + 8).map(async ([b, lines]) => {
            const fh = await open(join(this.dir, b), 'a');
            try {
              const bytes = Buffer.from(lines.join(''), 'utf8');
              await fh.write(bytes);
              await fh.datasync();
              this.total += bytes.length;
            } finally {
              await fh.close();
            }
          }),
        );
      }
      // Which ids each generation archived (one small file per generation, for a branch merge).
      const byGen = new Map<string, string[]>();
      for (const r of batch) {
        let list = byGen.get(r.gen);
        if (!list) byGen.set(r.gen, (list = []));
        list.push(r.id);
      }
      for (const [gen, ids] of byGen) await appendFile(join(this.dir, genFile(gen)), ids.join('\n') + '\n');
      await writeFile(join(this.dir, COUNTS_FILE + '.tmp'), JSON.stringify(this.c));
      await rename(join(this.dir, COUNTS_FILE + '.tmp'), join(this.dir, COUNTS_FILE));
      for (const r of batch) if (this.pending.get(r.id) === r) this.pending.delete(r.id);
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  private readLatest(id: string): ArchiveRecord | undefined {
    const path = join(this.dir, bucketOf(id));
    if (!existsSync(path)) return undefined;
    const text = readFileSync(path, 'utf8');
    const needle = `{"id":${JSON.stringify(id)},`;
    let at = text.lastIndexOf(needle);
    while (at >= 0) {
      if (at === 0 || text[at - 1] === '\n') {
        const end = text.indexOf('\n', at);
        try {
          const r = JSON.parse(text.slice(at, end < 0 ? undefined : end)) as unknown;
          if (isArchiveRecord(r) && r.id === id) return r;
        } catch {
          // a damaged line: look further back
        }
      }
      at = at === 0 ? -1 : text.lastIndexOf(needle, at - 1);
    }
    return undefined;
  }

  byGeneration(gen: string): ArchiveRecord[] {
    const path = join(this.dir, genFile(gen));
    if (!existsSync(path)) return [...this.pending.values()].filter((r) => r.gen === gen);
    const ids = new Set(readFileSync(path, 'utf8').split('\n').filter(Boolean));
    for (const r of this.pending.values()) if (r.gen === gen) ids.add(r.id);
    // One read per bucket file, not per id.
    const byBucket = new Map<string, string[]>();
    for (const id of ids) {
      const b = bucketOf(id);
      let list = byBucket.get(b);
      if (!list) byBucket.set(b, (list = []));
      list.push(id);
    }
    const out: ArchiveRecord[] = [];
    for (const [b, list] of byBucket) {
      const p = join(this.dir, b);
      const text = existsSync(p) ? readFileSync(p, 'utf8') : '';
      const latest = new Map<string, ArchiveRecord>();
      const want = new Set(list);
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          const r = JSON.parse(line) as unknown;
          if (isArchiveRecord(r) && want.has(r.id)) latest.set(r.id, r);
        } catch {
          // damaged line: skipped
        }
      }
      for (const id of list) {
        const r = this.pending.get(id) ?? latest.get(id);
        if (r) out.push(r);
      }
    }
    return out;
  }

  get(id: string): ArchiveRecord | undefined {
    const p = this.pending.get(id);
    if (p) return p;
    if (!this.bloom.has(id)) return undefined;
    return this.readLatest(id);
  }

  mightHave(id: string): boolean {
    return this.bloom.has(id);
  }

  counts(): ArchiveCounts {
    return { ...this.c };
  }

  bytes(): number {
    return this.total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.catch(() => {});
    this.closed = true;
  }
}

/** Bytes of every file in a directory tree (the on-disk size the benchmark prints). */
export function dirBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) n += dirBytes(p);
    else if (name.isFile()) n += statSync(p).size;
  }
  return n;
}
