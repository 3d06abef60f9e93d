// The file archive of a peer (Node only): finished tasks that left the live document, as JSON lines
// in 256 bucket files chosen by a hash of the task id, so reading one task reads one small file and
// nothing grows in memory but a fixed-size Bloom filter. Appends are fsynced before the peer drops
// the tasks from its document; a torn last line (kill -9 mid-write) is cut on open with a warning.
// Each line carries a checksum (archive-lines.ts): a damaged line costs that record only, and the
// bucket is copied aside (b-xx.jsonl.corrupt-<n>) before it is rewritten without the damage.

import { closeSync, constants, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { appendFile, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash32, resolveLogger, type Logger } from '@agentmesh/scheduler';
import { BloomFilter, countRecord, emptyCounts, type Archive, type ArchiveCounts, type ArchiveRecord } from './archive.js';
import { encodeArchiveLine, parseArchiveLine, parseArchiveText } from './archive-lines.js';

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

/** Writes `text` to `path` atomically and durably (tmp file, fsync, rename, fsync of the directory). */
function replaceFileSync(dir: string, path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  syncPath(tmp, 'r+');
  renameSync(tmp, path);
  if (process.platform !== 'win32') syncPath(dir, 'r');
}

function syncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies `path` to the first free `<path>.corrupt-<n>` (durably); returns its name. */
function keepCopySync(path: string): string {
  for (let n = 1; ; n++) {
    const aside = `${path}.corrupt-${n}`;
    if (existsSync(aside)) continue;
    copyFileSync(path, aside, constants.COPYFILE_EXCL);
    syncPath(aside, 'r+');
    return aside;
  }
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
      const parsed = parseArchiveText(buf);
      for (const r of parsed.records) {
        this.bloom.add(r.id);
        latest.set(r.id, r.state);
      }
      if (parsed.badLines.length > 0 || parsed.unterminated) {
        // Keep the damaged bucket, then rewrite it with every readable record.
        const aside = keepCopySync(path);
        const text = parsed.records.map(encodeArchiveLine).join('');
        replaceFileSync(this.dir, path, text);
        const lost = parsed.badLines.length > 0 ? `skipped unreadable line${parsed.badLines.length === 1 ? '' : 's'} ${parsed.badLines.join(', ')}` : 'repaired the newline of its last line';
        this.logger.log('warn', `archive ${name}: ${lost}${parsed.tornBytes > 0 ? ` and a torn last line (${parsed.tornBytes} bytes)` : ''}; kept the damaged file as ${aside}, ${parsed.records.length} records remain`);
        this.total += Buffer.byteLength(text);
        continue;
      }
      const good = buf.length - parsed.tornBytes;
      if (parsed.tornBytes > 0) {
        this.logger.log('warn', `archive ${name}: cut a torn last line (${parsed.tornBytes} bytes)`);
        truncateSync(path, good);
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
        list.push(encodeArchiveLine(r));
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
        // A damaged line has no record of this id: look further back.
        const r = parseArchiveLine(text.slice(at, end < 0 ? undefined : end)).records.find((x) => x.id === id);
        if (r) return r;
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
        for (const r of parseArchiveLine(line).records) if (want.has(r.id)) latest.set(r.id, r); // damaged parts skipped
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
