// Checks the file storage against a bad byte on real files: one flipped byte in the middle of a
// 1,000-record log costs that record only, the damaged file is kept aside and the loss is named; a
// damaged header keeps every record; a damaged length field is survived; random single-byte
// changes anywhere lose at most one record and invent none; old format-1 logs are converted.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_MAGIC, LOG_MAGIC_V1, RECORD_HEADER_BYTES, encodeLog, encodeRecordV1 } from '../src/log-codec.js';
import { openFileStorage } from '../src/node.js';
import type { LoadedState } from '../src/storage.js';

const root = await mkdtemp(join(tmpdir(), 'crdt-store-damage-'));
let dirCount = 0;
const newDir = (): string => join(root, `d${++dirCount}`);
afterAll(() => rm(root, { recursive: true, force: true }));

/** Distinct payloads of varying length (so record boundaries are irregular). */
const payload = (i: number): Uint8Array => new TextEncoder().encode(`update ${i} `.padEnd(10 + ((i * 7) % 40), String.fromCharCode(97 + (i % 26))));
const text = (xs: readonly Uint8Array[]): string[] => xs.map((x) => new TextDecoder().decode(x));

async function reload(dir: string): Promise<LoadedState & { logs: string[] }> {
  const logs: string[] = [];
  const s = await openFileStorage(dir, { logger: { log: (_l, m) => logs.push(m) } });
  try {
    return { ...(await s.load()), logs };
  } finally {
    await s.close();
  }
}

async function writeRecords(dir: string, payloads: Uint8Array[]): Promise<void> {
  const s = await openFileStorage(dir, { logger: { log: () => {} } });
  for (const p of payloads) s.append(p);
  await s.close();
}

function recordStarts(payloads: Uint8Array[]): number[] {
  const out: number[] = [];
  let at = LOG_MAGIC.length;
  for (const p of payloads) {
    out.push(at);
    at += RECORD_HEADER_BYTES + p.length;
  }
  return out;
}

async function flip(path: string, at: number, mask: number): Promise<Buffer> {
  const bytes = await readFile(path);
  bytes[at]! ^= mask;
  await writeFile(path, bytes);
  return bytes;
}

describe('FileStorage: one bad byte', () => {
  const N = 1000;
  const all = Array.from({ length: N }, (_, i) => payload(i));
  const starts = recordStarts(all);

  it('a flipped byte in the middle of 1,000 records costs that record only; the damaged log is kept aside; the loss is named', async () => {
    const dir = newDir();
    await writeRecords(dir, all);
    const path = join(dir, 'log.bin');
    const size = statSync(path).size;
    const at = Math.floor(size / 2);
    const victim = starts.findLastIndex((s) => s <= at);
    const damaged = await flip(path, at, 0x04);
    const state = await reload(dir);
    expect(text(state.updates)).toEqual(text(all.filter((_, i) => i !== victim)));
    const end = starts[victim]! + RECORD_HEADER_BYTES + all[victim]!.length;
    expect(state.warnings[0]).toContain(`lost 1 record at bytes ${starts[victim]}..${end}`);
    expect(state.warnings[0]).toContain(`after record #${victim} of the ${N - 1} read; the ${N - 1 - victim} records after it are kept`);
    expect(state.warnings[1]).toMatch(/kept the damaged log as .*log\.bin\.corrupt-1; the log now holds the 999 readable records/);
    expect(state.logs).toEqual(state.warnings); // every warning also went to the logger
    expect(state.lost).toEqual([{ offset: starts[victim], bytes: end - starts[victim]!, records: 1, exact: true, before: victim, reason: expect.any(String), payload: expect.any(Uint8Array) }]);
    expect(Buffer.compare(Buffer.from(state.lost![0]!.payload!), damaged.subarray(starts[victim]! + RECORD_HEADER_BYTES, end))).toBe(0); // as on disk
    expect(Buffer.compare(await readFile(`${path}.corrupt-1`), damaged)).toBe(0);
    // The repaired log is clean, and appends after it load after the kept records.
    const s = await openFileStorage(dir, { logger: { log: () => {} } });
    expect((await s.load()).warnings).toEqual([]);
    s.append(payload(N));
    await s.close();
    const again = await reload(dir);
    expect(again.warnings).toEqual([]);
    expect(text(again.updates)).toEqual(text([...all.filter((_, i) => i !== victim), payload(N)]));
  });

  it('a flipped byte in the 8-byte header keeps every record', async () => {
    for (const at of [0, 5, 7]) {
      const dir = newDir();
      await writeRecords(dir, all.slice(0, 50));
      await flip(join(dir, 'log.bin'), at, 0x01);
      const state = await reload(dir);
      expect(text(state.updates)).toEqual(text(all.slice(0, 50)));
      expect(state.warnings[0]).toMatch(/log\.bin: .*header.*; read the 50 records after it anyway/);
      expect(state.lost).toBeUndefined();
      expect(await readdir(dir)).toContain('log.bin.corrupt-1');
      expect((await reload(dir)).warnings).toEqual([]);
    }
  });

  it('a corrupt length field: the record is kept when its payload checks out, and the records after it always are', async () => {
    const dir = newDir();
    await writeRecords(dir, all.slice(0, 100));
    const path = join(dir, 'log.bin');
    const bytes = await readFile(path);
    bytes.writeUInt32LE(0xfffffff0, starts[30]! + 4); // absurd length, payload intact
    bytes.writeUInt32LE(3, starts[60]! + 4); // short length ...
    bytes[starts[60]! + RECORD_HEADER_BYTES + 1]! ^= 0xff; // ... and a bad payload byte
    await writeFile(path, bytes);
    const state = await reload(dir);
    expect(text(state.updates)).toEqual(text(all.slice(0, 100).filter((_, i) => i !== 60)));
    expect(state.warnings.join('\n')).toMatch(new RegExp(`record at offset ${starts[30]} had a damaged header but an intact payload; kept it`));
    expect(state.lost).toMatchObject([{ offset: starts[60], records: 1, before: 60 }]);
  });

  it('random single-byte changes anywhere lose at most the record they hit, and never invent one', async () => {
    const some = all.slice(0, 60);
    const someStarts = recordStarts(some);
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const dir = newDir();
    await writeRecords(dir, some);
    const clean = await readFile(join(dir, 'log.bin'));
    for (let round = 0; round < 40; round++) {
      const at = rand(clean.length);
      const bytes = Buffer.from(clean);
      bytes[at]! ^= 1 + rand(255);
      await rm(dir, { recursive: true, force: true });
      await writeRecords(dir, []);
      await writeFile(join(dir, 'log.bin'), bytes);
      const state = await reload(dir);
      const hit = at < LOG_MAGIC.length ? -1 : someStarts.findLastIndex((s) => s <= at);
      const got = text(state.updates);
      const want = text(some);
      if (got.length === some.length) expect(got).toEqual(want);
      else expect(got).toEqual(want.filter((_, i) => i !== hit));
      expect(state.warnings.length).toBeGreaterThan(0);
    }
  });
});

describe('FileStorage: torn tails and old logs', () => {
  it('a torn tail is still cut in place, without a copy', async () => {
    const dir = newDir();
    const some = Array.from({ length: 5 }, (_, i) => payload(i));
    await writeRecords(dir, some);
    const path = join(dir, 'log.bin');
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 4));
    const state = await reload(dir);
    expect(text(state.updates)).toEqual(text(some.slice(0, 4)));
    expect(state.warnings).toEqual([expect.stringMatching(/log\.bin: truncated record .* at offset \d+; cut the \d+ bytes from there$/)]);
    expect(await readdir(dir)).not.toContain('log.bin.corrupt-1');
    expect(statSync(path).size).toBe(recordStarts(some)[4]);
  });

  it('a format-1 log is read and converted to format 2 (a torn tail cut, no copy needed)', async () => {
    const dir = newDir();
    await writeRecords(dir, []);
    const some = Array.from({ length: 7 }, (_, i) => payload(i));
    const v1 = Buffer.concat([LOG_MAGIC_V1, ...some.map(encodeRecordV1), encodeRecordV1(payload(99)).subarray(0, 5)]);
    await writeFile(join(dir, 'log.bin'), v1);
    const state = await reload(dir);
    expect(text(state.updates)).toEqual(text(some));
    expect(state.warnings).toEqual([expect.stringMatching(/truncated record header/)]);
    expect(state.logs).toContain(`${join(dir, 'log.bin')}: converted the log from format 1 to format 2 (7 records)`);
    expect(Buffer.compare(await readFile(join(dir, 'log.bin')), Buffer.from(encodeLog(some)))).toBe(0);
    expect(existsSync(join(dir, 'log.bin.corrupt-1'))).toBe(false);
    expect((await reload(dir)).warnings).toEqual([]);
  });

  it('a damaged format-1 log: the record is lost, the rest kept, a copy kept', async () => {
    const dir = newDir();
    await writeRecords(dir, []);
    const some = Array.from({ length: 9 }, (_, i) => payload(i));
    const v1 = Buffer.concat([LOG_MAGIC_V1, ...some.map(encodeRecordV1)]);
    const fourth = LOG_MAGIC_V1.length + some.slice(0, 4).reduce((n, p) => n + 8 + p.length, 0);
    v1[fourth + 8 + 2]! ^= 0x30;
    await writeFile(join(dir, 'log.bin'), v1);
    const state = await reload(dir);
    expect(text(state.updates)).toEqual(text(some.filter((_, i) => i !== 4)));
    expect(state.lost).toMatchObject([{ offset: fourth, records: 1, before: 4 }]);
    expect(existsSync(join(dir, 'log.bin.corrupt-1'))).toBe(true);
  });
});
