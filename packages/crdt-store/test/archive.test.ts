// The archive: records survive a reopen (file), the latest record of an id wins, the Bloom filter
// never forgets an id, a torn WAL tail (kill -9 mid-commit) costs nothing acknowledged, records are
// found by generation and by search, and a bad byte in the database (or in a bucket of the older
// JSON-lines format, imported on open) costs at most the record it sits in (each is checksummed).
import { copyFileSync, existsSync, mkdtempSync, readdirSync, appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@agentmesh/scheduler';
import { BloomFilter, MemoryArchive, factsFromRecord, type Archive, type ArchiveRecord } from '../src/index.js';
import Database from 'better-sqlite3';
import { FileArchive } from '../src/node.js';
import { DB_FILE, PAGE_SIZE } from '../src/archive-db.js';
import { encodeArchiveLine, parseArchiveText } from '../src/archive-lines.js';

const rec = (id: string, state: ArchiveRecord['state'] = 'done', gen = '1.10.5.p'): ArchiveRecord => ({
  id, state, finishedAt: 1, result: { id }, peer: 'p', attempts: 1, gen, archivedAt: 5, spec: { id }, facts: { [`${id}/done/1/p`]: { round: 1 } },
});

function both(): [string, () => Archive][] {
  return [
    ['memory', () => new MemoryArchive()],
    ['file', () => FileArchive.open(mkdtempSync(join(tmpdir(), 'am-arch-')), { logger: silentLogger })],
    ['file, commits on the loop', () => FileArchive.open(mkdtempSync(join(tmpdir(), 'am-arch-')), { logger: silentLogger, writerThread: false })],
  ];
}

describe('archive', () => {
  it('the Bloom filter has no false negatives', () => {
    const b = new BloomFilter(1 << 16, 5);
    const ids = Array.from({ length: 3000 }, (_, i) => `t-${i.toString(36)}-${(i * 7919).toString(16)}`);
    ids.forEach((id) => b.add(id));
    expect(ids.every((id) => b.has(id))).toBe(true);
    const others = Array.from({ length: 3000 }, (_, i) => `x-${i}`).filter((id) => b.has(id)).length;
    expect(others).toBeLessThan(300);
  });

  for (const [name, open] of both()) {
    it(`${name}: get, counts, latest record wins, byGeneration`, async () => {
      const a = open();
      const ids = Array.from({ length: 500 }, (_, i) => `t-${i}-${(i * 104729).toString(36)}`);
      await a.append(ids.map((id) => rec(id)));
      for (const id of ids) expect(a.get(id)?.id, id).toBe(id);
      expect(a.get('t-nope')).toBeUndefined();
      expect(a.counts()).toEqual({ done: 500, dead: 0, cancelled: 0, total: 500 });
      await a.append([rec(ids[0]!, 'dead', '2.20.5.p')]);
      expect(a.get(ids[0]!)?.state).toBe('dead');
      expect(a.counts()).toEqual({ done: 499, dead: 1, cancelled: 0, total: 500 });
      expect(a.byGeneration('2.20.5.p').map((r) => r.id)).toEqual([ids[0]]);
      expect(a.byGeneration('1.10.5.p').length).toBeGreaterThanOrEqual(499);
      await a.close();
    });

    it(`${name}: search by state, type, peer, time and text, in pages, with duplicate runs and dependents`, async () => {
      const a = open();
      const full = (i: number): ArchiveRecord => {
        const id = `q-${String(i).padStart(4, '0')}`;
        const type = i % 2 ? 'echo' : 'traffic.forecast';
        const peer = i % 3 ? 'peer-a' : 'peer-b';
        const spec = { id, type, payload: { i }, priority: 0, requires: [], prefers: [], dependsOn: i > 0 && i % 10 === 0 ? ['q-0000'] : [], maxAttempts: 3, timeoutMs: 0, createdAt: 1000 + i, createdBy: peer, notBefore: 0, strategy: 'capacity-weighted', ...(i === 7 ? { key: 'wf/seven' } : {}) };
        const facts: Record<string, unknown> = { [`${id}/claim/1/${peer}`]: { peer, round: 1, score: 0.1, at: 1 } };
        const state = i % 5 === 0 ? 'dead' : 'done';
        if (state === 'dead') facts[`${id}/fail/1/${peer}`] = { peer, round: 1, error: `boom ${i}`, at: 2 };
        else facts[`${id}/done/1/${peer}`] = { peer, round: 1, result: i, at: 2, ms: 1 };
        if (i === 3) {
          facts[`${id}/claim/1/peer-c`] = { peer: 'peer-c', round: 1, score: 0.2, at: 1 };
          facts[`${id}/done/1/peer-c`] = { peer: 'peer-c', round: 1, result: 'again', at: 3, ms: 1 };
        }
        return { id, spec, facts, state, finishedAt: 2000 + i, result: state === 'done' ? i : null, peer: state === 'done' ? peer : null, attempts: 1, gen: 'g', archivedAt: 5 };
      };
      await a.append(Array.from({ length: 60 }, (_, i) => full(i)));
      const all = a.query!({ limit: 25 });
      expect(all.total).toBe(60);
      expect(all.rows.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => `q-${String(59 - i).padStart(4, '0')}`));
      expect(a.query!({ limit: 25, offset: 50 }).rows.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `q-${String(9 - i).padStart(4, '0')}`));
      const dead = a.query!({ states: ['dead'], limit: 100 });
      expect(dead.total).toBe(12);
      expect(dead.rows.find((r) => r.id === 'q-0010')).toMatchObject({ state: 'dead', error: 'boom 10', peer: 'peer-a', type: 'traffic.forecast', dependsOn: ['q-0000'] });
      expect(a.query!({ type: 'echo', peers: ['peer-b'], limit: 100 }).total).toBe(10);
      expect(a.query!({ since: 1050, limit: 100 }).total).toBe(10);
      expect(a.query!({ text: 'BOOM 1', limit: 100 }).rows.map((r) => r.id).sort()).toEqual(['q-0010', 'q-0015']);
      expect(a.query!({ text: 'wf/sev', limit: 100 }).rows.map((r) => r.id)).toEqual(['q-0007']);
      expect(a.query!({ text: '%', limit: 100 }).total).toBe(0);
      expect(a.query!({ sort: 'id', desc: false, limit: 2 }).rows.map((r) => r.id)).toEqual(['q-0000', 'q-0001']);
      expect(a.duplicateRuns!()).toBe(1);
      expect(a.summary!('q-0003')).toMatchObject({ duplicates: 1, peer: 'peer-b', createdAt: 1003 });
      expect(a.dependents!('q-0000')).toEqual(['q-0010', 'q-0020', 'q-0030', 'q-0040', 'q-0050']);
      await a.append([{ ...full(3), facts: { 'q-0003/claim/1/peer-b': { peer: 'peer-b', round: 1, score: 0.1, at: 1 }, 'q-0003/done/1/peer-b': { peer: 'peer-b', round: 1, result: 3, at: 2, ms: 1 } } }]);
      // (The file archive counts a record's duplicate runs once its search row is made: a search makes it.)
      a.query!({ limit: 1 });
      expect(a.duplicateRuns!()).toBe(0);
      await a.close();
    });
  }

  for (const [name, open] of both()) {
    it(`${name}: keeps the sheets (batch bytes) records refer to, once each, and gives them back`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
      const a = name === 'file' ? FileArchive.open(dir, { logger: silentLogger }) : open();
      const seg = new Uint8Array([1, 2, 3, 4, 5]);
      const act = new Uint8Array(3000).fill(7);
      await a.append([rec('s-1'), rec('s-2')], undefined, new Map([['segs/k1', seg], ['acts/a1', act]]));
      // A later append naming a kept sheet again does not replace it.
      await a.append([rec('s-3')], undefined, new Map([['acts/a1', new Uint8Array([9])]]));
      expect(a.sheet!('segs/k1')).toEqual(seg);
      expect(a.sheet!('acts/a1')).toEqual(act);
      expect(a.sheet!('acts/nope')).toBeUndefined();
      await a.close();
      if (name === 'file') {
        const b = FileArchive.open(dir, { logger: silentLogger });
        expect(b.sheet('segs/k1')).toEqual(seg);
        expect(b.sheet('acts/a1')).toEqual(act);
        await b.close();
        // A changed byte in a sheet: the archive is salvaged, every record stays, that sheet goes.
        const db = new Database(join(dir, DB_FILE));
        db.prepare("UPDATE sheets SET bytes = ? WHERE key = 'acts/a1'").run(Buffer.alloc(3000, 8));
        db.close();
        const warnings: string[] = [];
        const c = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
        expect(warnings.join('\n')).toMatch(/acts\/a1: its bytes fail their checksum; kept the damaged file/);
        expect(['s-1', 's-2', 's-3'].map((id) => c.get(id)?.id)).toEqual(['s-1', 's-2', 's-3']);
        expect(c.sheet('acts/a1')).toBeUndefined();
        expect(c.sheet('segs/k1')).toEqual(seg);
        await c.close();
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }

  it('file: facts the caller parsed already make the same rows as parsing them again (used on the loop; unit rows parse their records)', async () => {
    const record = (i: number, twice: boolean): ArchiveRecord => {
      const id = `f-${i}`;
      const spec = { id, type: 'echo', payload: { i }, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3, timeoutMs: 0, createdAt: 1000 + i, createdBy: 'pa', notBefore: 0, strategy: 'capacity-weighted' };
      const facts: Record<string, unknown> = { [`${id}/claim/1/pa`]: { peer: 'pa', round: 1, score: 0.1, at: 1 }, [`${id}/done/1/pa`]: { peer: 'pa', round: 1, result: i, at: 2, ms: 1 } };
      if (twice) (facts[`${id}/claim/1/pb`] = { peer: 'pb', round: 1, score: 0.2, at: 1 }), (facts[`${id}/done/1/pb`] = { peer: 'pb', round: 1, result: 'again', at: 3, ms: 1 });
      return { id, spec, facts, state: 'done', finishedAt: 2000 + i, result: i, peer: 'pa', attempts: 1, gen: 'g', archivedAt: 5 };
    };
    const records = Array.from({ length: 30 }, (_, i) => record(i, i % 7 === 0));
    const plain = FileArchive.open(mkdtempSync(join(tmpdir(), 'am-arch-')), { logger: silentLogger, writerThread: false });
    const given = FileArchive.open(mkdtempSync(join(tmpdir(), 'am-arch-')), { logger: silentLogger, writerThread: false });
    await plain.append(records);
    await given.append(records, new Map(records.map((r) => [r, factsFromRecord(r)!])));
    expect(given.query!({ limit: 100 })).toEqual(plain.query!({ limit: 100 }));
    expect(given.duplicateRuns!()).toBe(plain.duplicateRuns!());
    expect(plain.duplicateRuns!()).toBe(5);
    // The archive takes the caller's parse as it is: facts without the second run count none.
    const r0 = record(0, true);
    await given.append([r0], new Map([[r0, factsFromRecord(record(0, false))!]]));
    expect(given.summary!('f-0')).toMatchObject({ duplicates: 0 });
    expect(plain.summary!('f-0')).toMatchObject({ duplicates: 1 });
    await plain.close();
    await given.close();
  });

  it('file: reopens with everything; a torn WAL tail (kill -9 mid-commit) costs nothing acknowledged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append([rec('t-one'), rec('t-two', 'cancelled')]);
    await a.append([rec('t-three', 'dead')]);
    // What a kill -9 leaves: the files as they are now, the WAL not checkpointed; then a torn frame.
    const crashed = mkdtempSync(join(tmpdir(), 'am-arch-crash-'));
    for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(crashed, f));
    expect(existsSync(join(crashed, 'archive.db-wal'))).toBe(true);
    appendFileSync(join(crashed, 'archive.db-wal'), Buffer.alloc(1000, 0x5a));
    await a.close();
    const warnings: string[] = [];
    const b = FileArchive.open(crashed, { logger: { log: (_level, m) => warnings.push(m) } });
    expect(warnings).toEqual([]);
    expect(b.get('t-one')?.state).toBe('done');
    expect(b.get('t-two')?.state).toBe('cancelled');
    expect(b.get('t-three')?.state).toBe('dead');
    expect(b.counts()).toEqual({ done: 1, dead: 1, cancelled: 1, total: 3 });
    await b.append([rec('t-four')]);
    await b.close();
    const c = FileArchive.open(crashed, { logger: silentLogger });
    expect(c.get('t-four')?.id).toBe('t-four');
    expect(c.counts().total).toBe(4);
    await c.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(crashed, { recursive: true, force: true });
  });

  it('file: a new archive uses 8 KiB pages; one made with 4 KiB pages opens, keeps its size and its records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append([rec('t-new')]);
    await a.close();
    const pageSize = (d: string): number => {
      const db = new Database(join(d, DB_FILE), { readonly: true });
      try {
        return db.pragma('page_size', { simple: true }) as number;
      } finally {
        db.close();
      }
    };
    expect(pageSize(dir)).toBe(PAGE_SIZE);
    expect(PAGE_SIZE).toBe(8192);
    // An archive from before: the same schema in a file with 4 KiB pages.
    const old = mkdtempSync(join(tmpdir(), 'am-arch-old-'));
    const pre = new Database(join(old, DB_FILE));
    pre.pragma('page_size = 4096');
    pre.exec('CREATE TABLE placeholder (x)');
    pre.exec('DROP TABLE placeholder');
    pre.close();
    const b = FileArchive.open(old, { logger: silentLogger });
    await b.append([rec('t-old-1'), rec('t-old-2', 'dead')]);
    await b.close();
    expect(pageSize(old)).toBe(4096);
    const c = FileArchive.open(old, { logger: silentLogger });
    expect(c.get('t-old-1')?.state).toBe('done');
    expect(c.get('t-old-2')?.state).toBe('dead');
    expect(c.counts().total).toBe(2);
    await c.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  });

  it('file: an acknowledged append is in the database files at once (no close needed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    const ids = Array.from({ length: 1200 }, (_, i) => `t-ack-${i}`); // more than one commit chunk
    await a.append(ids.map((id) => rec(id)));
    const crashed = mkdtempSync(join(tmpdir(), 'am-arch-crash-'));
    for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(crashed, f));
    const b = FileArchive.open(crashed, { logger: silentLogger });
    expect(b.counts().total).toBe(1200);
    expect(ids.every((id) => b.get(id)?.id === id)).toBe(true);
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(crashed, { recursive: true, force: true });
  });

  it('file: a plain-JS caller passing the retired log option gets INVALID_ARGUMENT', () => {
    const dir = join(tmpdir(), `am-arch-none-${process.pid}`);
    const opts = { log: () => {} } as unknown as Parameters<typeof FileArchive.open>[1];
    expect(() => FileArchive.open(dir, opts)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('lines carry a checksum; lines written before checksums are still read', () => {
    const line = encodeArchiveLine(rec('t-a'));
    expect(line).toMatch(/^\{"id":"t-a",.*\}\t[0-9a-f]{8}\n$/);
    const legacy = JSON.stringify(rec('t-old')) + '\n';
    const parsed = parseArchiveText(new TextEncoder().encode(legacy + line));
    expect(parsed.records.map((r) => r.id)).toEqual(['t-old', 't-a']);
    expect(parsed).toMatchObject({ badLines: [], tornBytes: 0, unterminated: false });
  });

  /** An archive dir in the older format: one bucket file holding `n` records t-0..t-{n-1} (imported on open). */
  function oneBucket(n: number): { dir: string; path: string; bytes: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const path = join(dir, 'b-00.jsonl');
    writeFileSync(path, Array.from({ length: n }, (_, i) => encodeArchiveLine(rec(`t-${i}`))).join(''));
    return { dir, path, bytes: readFileSync(path) };
  }

  /** Every record an archive holds, by reading each id it could hold. */
  function held(a: FileArchive, n: number): ArchiveRecord[] {
    return Array.from({ length: n }, (_, i) => a.get(`t-${i}`)).filter((r): r is ArchiveRecord => r !== undefined);
  }

  it('file: a JSON-lines archive is imported once into the database, and its files go', async () => {
    const { dir } = oneBucket(30);
    writeFileSync(join(dir, 'gen-1.10.5.p.ids'), 't-0\n');
    writeFileSync(join(dir, 'counts.json'), '{}');
    const a = FileArchive.open(dir, { logger: silentLogger });
    expect(a.counts()).toEqual({ done: 30, dead: 0, cancelled: 0, total: 30 });
    expect(held(a, 30).map((r) => r.id)).toEqual(Array.from({ length: 30 }, (_, i) => `t-${i}`));
    expect(a.byGeneration('1.10.5.p')).toHaveLength(30);
    await a.close();
    expect(readdirSync(dir).filter((f) => !f.startsWith('archive.db'))).toEqual([]);
    const again: string[] = [];
    const b = FileArchive.open(dir, { logger: { log: (_l, m) => again.push(m) } });
    expect(again).toEqual([]);
    expect(b.counts().total).toBe(30);
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('file: importing a bucket with a changed byte costs at most the record it sits in, invents none, and keeps the damaged bucket aside', async () => {
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (let round = 0; round < 80; round++) {
      const { dir, path, bytes } = oneBucket(12);
      bytes[rand(bytes.length)]! ^= 1 + rand(255);
      writeFileSync(path, bytes);
      const readable = parseArchiveText(bytes).records;
      const warnings: string[] = [];
      const a = FileArchive.open(dir, { logger: { log: (l, m) => l === 'warn' && warnings.push(m) } });
      const kept = held(a, 12);
      expect(kept.length).toBeGreaterThanOrEqual(11);
      expect(kept.length).toBe(new Set(readable.map((r) => r.id)).size);
      expect(a.counts().total).toBe(kept.length);
      for (const r of kept) expect(r).toEqual(rec(r.id)); // nothing altered
      if (kept.length < 12) {
        expect(readdirSync(dir)).toContain('b-00.jsonl.corrupt-1');
        expect(warnings.join('\n')).toMatch(/unreadable line|torn/);
      }
      await a.close();
      const again: string[] = [];
      const b = FileArchive.open(dir, { logger: { log: (_l, m) => again.push(m) } });
      expect(again).toEqual([]); // the import lasts
      expect(held(b, 12)).toEqual(kept);
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('file: importing a damaged newline loses nothing (two lines run together, or the last line)', async () => {
    const { dir, path, bytes } = oneBucket(10);
    bytes[bytes.indexOf(0x0a)]! = 0x58; // first newline
    bytes[bytes.length - 1]! = 0x59; // last newline
    writeFileSync(path, bytes);
    const warnings: string[] = [];
    const a = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
    expect(a.counts().total).toBe(10);
    expect(held(a, 10)).toHaveLength(10);
    expect(warnings.join('\n')).toMatch(/kept the damaged file as .*b-00\.jsonl\.corrupt-1/);
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A closed archive database holding `n` records t-0..t-{n-1}. */
  async function oneDatabase(n: number): Promise<{ dir: string; path: string; bytes: Buffer }> {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append(Array.from({ length: n }, (_, i) => rec(`t-${i}`, i % 3 === 0 ? 'dead' : 'done')));
    await a.close();
    const path = join(dir, 'archive.db');
    expect(readdirSync(dir)).toEqual(['archive.db']);
    return { dir, path, bytes: readFileSync(path) };
  }

  it('file: a changed byte anywhere in the database costs at most the record it sits in, invents none, and the damaged file is kept aside', async () => {
    let seed = 11;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    const base = await oneDatabase(12);
    // Bytes that hold something: a flip in the zeroed free space of a page changes nothing at all.
    const used = [...base.bytes.keys()].filter((i) => base.bytes[i] !== 0 || i < 100);
    let salvaged = 0;
    for (let round = 0; round < 80; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
      const path = join(dir, 'archive.db');
      const bytes = Buffer.from(base.bytes);
      bytes[used[rand(used.length)]!]! ^= 1 + rand(255);
      writeFileSync(path, bytes);
      const warnings: string[] = [];
      const a = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
      const kept = held(a, 12);
      expect(kept.length, `round ${round}`).toBeGreaterThanOrEqual(11);
      for (const r of kept) expect(r).toEqual(rec(r.id, Number(r.id.slice(2)) % 3 === 0 ? 'dead' : 'done')); // nothing altered
      const c = a.counts();
      expect(c.total).toBe(kept.length);
      expect(c.dead).toBe(kept.filter((r) => r.state === 'dead').length);
      expect(a.query({ states: ['dead'], limit: 100 }).rows.map((r) => r.id).sort()).toEqual(kept.filter((r) => r.state === 'dead').map((r) => r.id).sort());
      if (warnings.length > 0) {
        salvaged++;
        expect(warnings.join('\n')).toMatch(/kept the damaged file as archive\.db\.corrupt-1/);
        expect(readdirSync(dir)).toContain('archive.db.corrupt-1');
      }
      await a.close();
      const again: string[] = [];
      const b = FileArchive.open(dir, { logger: { log: (_l, m) => again.push(m) } });
      expect(again).toEqual([]); // the repair lasts
      expect(held(b, 12)).toEqual(kept);
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(salvaged).toBeGreaterThan(20); // most changes are noticed (the rest fell on bytes nobody reads)
    rmSync(base.dir, { recursive: true, force: true });
  });

  it('file: a database that is not one at all (zeroed header) gives back every record', async () => {
    const { dir, path, bytes } = await oneDatabase(12);
    bytes.fill(0, 0, 100);
    writeFileSync(path, bytes);
    const warnings: string[] = [];
    const a = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
    expect(held(a, 12)).toHaveLength(12);
    expect(warnings.join('\n')).toMatch(/kept the damaged file as archive\.db\.corrupt-1, 12 records remain/);
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
