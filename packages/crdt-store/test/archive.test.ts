// The archive: records survive a reopen (file), the latest record of an id wins, the Bloom filter
// never forgets an id, a torn last line is cut on open, and records are found by generation.
import { mkdtempSync, readdirSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@agentmesh/scheduler';
import { BloomFilter, MemoryArchive, type Archive, type ArchiveRecord } from '../src/index.js';
import { FileArchive } from '../src/node.js';

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
});
