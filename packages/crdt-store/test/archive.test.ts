// The archive: records survive a reopen (file), the latest record of an id wins, the Bloom filter
// never forgets an id, a torn last line is cut on open, records are found by generation, and a bad
// byte in a bucket costs at most the record it sits in (each line is checksummed).
import { mkdtempSync, readdirSync, appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@agentmesh/scheduler';
import { BloomFilter, MemoryArchive, type Archive, type ArchiveRecord } from '../src/index.js';
import { FileArchive } from '../src/node.js';
import { encodeArchiveLine, parseArchiveText } from '../src/archive-lines.js';

const rec = (id: string, state: ArchiveRecord['state'] = 'done', gen = '1.10.5.p'): ArchiveRecord => ({
  id, state, finishedAt: 1, result: { id }, peer: 'p', attempts: 1, gen, archivedAt: 5, spec: { id }, facts: { [`${id}/done/1/p`]: { round: 1 } },
});

function both(): [string, () => Archive][] {
  const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
  return [
    ['memory', () => new MemoryArchive()],
    ['file', () => FileArchive.open(dir, { logger: silentLogger })],
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
  }

  it('file: reopens with everything, cuts a torn last line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const a = FileArchive.open(dir, { logger: silentLogger });
    await a.append([rec('t-one'), rec('t-two', 'cancelled')]);
    await a.close();
    const bucket = readdirSync(dir).find((f) => f.endsWith('.jsonl'))!;
    appendFileSync(join(dir, bucket), '{"id":"t-torn","sta');
    const warnings: string[] = [];
    const b = FileArchive.open(dir, { logger: { log: (_level, m) => warnings.push(m) } });
    expect(warnings.join()).toMatch(/torn/);
    expect(b.get('t-one')?.state).toBe('done');
    expect(b.get('t-two')?.state).toBe('cancelled');
    expect(b.get('t-torn')).toBeUndefined();
    expect(b.counts().total).toBe(2);
    await b.append([rec('t-three')]);
    expect(FileArchive.open(dir, { logger: silentLogger }).get('t-three')?.id).toBe('t-three');
    rmSync(dir, { recursive: true, force: true });
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

  /** A data dir with one bucket file holding `n` records t-0..t-{n-1} (open reads every bucket whatever its name). */
  function oneBucket(n: number): { dir: string; path: string; bytes: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), 'am-arch-'));
    const path = join(dir, 'b-00.jsonl');
    writeFileSync(path, Array.from({ length: n }, (_, i) => encodeArchiveLine(rec(`t-${i}`))).join(''));
    return { dir, path, bytes: readFileSync(path) };
  }

  it('file: a changed byte costs at most the record it sits in, invents none, and the damaged bucket is kept aside', () => {
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (let round = 0; round < 80; round++) {
      const { dir, path, bytes } = oneBucket(12);
      bytes[rand(bytes.length)]! ^= 1 + rand(255);
      writeFileSync(path, bytes);
      const warnings: string[] = [];
      const a = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
      const kept = parseArchiveText(readFileSync(path));
      expect(kept.records.length).toBeGreaterThanOrEqual(11);
      expect(a.counts().total).toBe(kept.records.length);
      for (const r of kept.records) expect(r).toEqual(rec(r.id)); // nothing altered
      if (kept.records.length < 12) {
        expect(readdirSync(dir)).toContain('b-00.jsonl.corrupt-1');
        expect(warnings.join('\n')).toMatch(/unreadable line|torn/);
      }
      const again: string[] = [];
      FileArchive.open(dir, { logger: { log: (_l, m) => again.push(m) } });
      expect(again).toEqual([]); // the repair lasts
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('file: a damaged newline loses nothing (two lines run together, or the last line)', () => {
    const { dir, path, bytes } = oneBucket(10);
    bytes[bytes.indexOf(0x0a)]! = 0x58; // first newline
    bytes[bytes.length - 1]! = 0x59; // last newline
    writeFileSync(path, bytes);
    const warnings: string[] = [];
    const a = FileArchive.open(dir, { logger: { log: (_l, m) => warnings.push(m) } });
    expect(a.counts().total).toBe(10);
    expect(parseArchiveText(readFileSync(path)).records).toHaveLength(10);
    expect(warnings.join('\n')).toMatch(/kept the damaged file as .*b-00\.jsonl\.corrupt-1/);
    rmSync(dir, { recursive: true, force: true });
  });
});
