// Checks reading damaged logs: one bad byte anywhere costs at most the record it sits in (the
// records after it are kept, nothing is invented), a bad header keeps the records, a torn tail is
// cut, old format-1 logs are read (and resynchronised) too, and the repair each case gets.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LOG_MAGIC, LOG_MAGIC_V1, RECORD_HEADER_BYTES, encodeLog, encodeRecord, encodeRecordV1 } from '../src/log-codec.js';
import { decodeLog, planLogRepair } from '../src/log-reader.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const strings = (xs: Uint8Array[]): string[] => xs.map((r) => new TextDecoder().decode(r));
const lists = (xs: readonly Uint8Array[]): number[][] => xs.map((x) => Array.from(x));
const payloadArb = fc.uint8Array({ minLength: 1, maxLength: 64 });

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const makeLogV1 = (payloads: Uint8Array[]): Uint8Array => concat(LOG_MAGIC_V1, ...payloads.map(encodeRecordV1));

/** Offsets where each record starts in a log of these payloads (header bytes per record given). */
function starts(payloads: Uint8Array[], headerBytes = RECORD_HEADER_BYTES): number[] {
  const out: number[] = [];
  let at = 8;
  for (const p of payloads) {
    out.push(at);
    at += headerBytes + p.length;
  }
  return out;
}

/** True when `got` is `want` with at most `missing` records left out, in order, each byte-identical. */
function isSubsequence(got: readonly Uint8Array[], want: readonly Uint8Array[], missing: number): boolean {
  if (got.length < want.length - missing || got.length > want.length) return false;
  let i = 0;
  for (const w of want) {
    const g = got[i];
    if (g && g.length === w.length && g.every((b, k) => b === w[k])) i++;
  }
  return i === got.length;
}

const words = ['first', 'second', 'third', 'fourth', 'fifth'].map(text);

describe('decodeLog: headers', () => {
  it('reports a wrong or missing header at offset 0 with no records', () => {
    for (const bytes of [new Uint8Array(0), LOG_MAGIC.subarray(0, 3), text('NOTALOG!xxxxxxxxxxxx'), text('AMSNAP1\0')]) {
      const d = decodeLog(bytes);
      expect(d.records).toEqual([]);
      expect(d.version).toBeNull();
      expect(d.validBytes).toBe(0);
      expect(d.problem?.offset).toBe(0);
    }
    expect(decodeLog(LOG_MAGIC.subarray(0, 3)).problem?.reason).toMatch(/truncated log header/);
    expect(decodeLog(LOG_MAGIC_V1.subarray(0, 5)).problem?.reason).toMatch(/truncated log header/);
    expect(decodeLog(text('NOTALOG!')).problem?.reason).toMatch(/bad magic/);
  });

  it('a damaged header does not discard the records after it', () => {
    const log = encodeLog(words);
    for (let at = 0; at < 8; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = log.slice();
        bad[at]! ^= mask;
        const d = decodeLog(bad);
        expect(strings(d.records)).toEqual(strings(words));
        expect(d.version).toBe(2);
        expect(d.badHeader).toMatch(/header/);
        expect(d.damage).toEqual([]);
      }
    }
  });

  it('a format-1 log whose header was damaged is read as format 1', () => {
    const bad = makeLogV1(words);
    bad[2]! ^= 0x10;
    const d = decodeLog(bad);
    expect(d.version).toBe(1);
    expect(strings(d.records)).toEqual(strings(words));
    expect(d.badHeader).toMatch(/bad magic/);
  });
});

describe('decodeLog: damage in the middle costs one record', () => {
  it('a flipped payload byte loses exactly that record; the ones after it are kept', () => {
    const log = encodeLog(words);
    const at = starts(words);
    const bad = log.slice();
    bad[at[1]! + RECORD_HEADER_BYTES + 2]! ^= 0x01;
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(['first', 'third', 'fourth', 'fifth']);
    const hit = words[1]!.slice();
    hit[2]! ^= 0x01;
    expect(d.damage).toEqual([
      { offset: at[1], bytes: RECORD_HEADER_BYTES + 6, records: 1, exact: true, before: 1, reason: expect.stringMatching(/checksum mismatch/), payload: hit },
    ]);
    expect(d.tail).toBeNull();
    expect(d.problem).toEqual({ offset: at[1], reason: expect.stringMatching(/checksum/) });
  });

  it('a damaged marker, length or header checksum loses nothing: the payload still matches its checksum', () => {
    const log = encodeLog(words);
    const at = starts(words);
    for (const field of [0, 1, 3, 4, 5, 7, 12, 15]) {
      for (const mask of [0x01, 0x40, 0xff]) {
        const bad = log.slice();
        bad[at[2]! + field]! ^= mask;
        const d = decodeLog(bad);
        expect(strings(d.records)).toEqual(strings(words));
        expect(d.damage).toEqual([]);
        expect(d.rescued).toEqual([at[2]]);
      }
    }
  });

  it('a damaged length together with a damaged payload: the reader resynchronises on the next record', () => {
    const log = encodeLog(words);
    const at = starts(words);
    const bad = log.slice();
    new DataView(bad.buffer).setUint32(at[1]! + 4, 0x7fffffff, true); // absurd length
    bad[at[1]! + RECORD_HEADER_BYTES]! ^= 0x20; // and a payload byte
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(['first', 'third', 'fourth', 'fifth']);
    expect(d.damage).toHaveLength(1);
    expect(d.damage[0]).toMatchObject({ offset: at[1], bytes: at[2]! - at[1]!, before: 1 });
  });

  it('a damaged payload checksum field loses that record only', () => {
    const at = starts(words);
    const bad = encodeLog(words);
    bad[at[3]! + 9]! ^= 0x04;
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(['first', 'second', 'third', 'fifth']);
    expect(d.damage).toMatchObject([{ offset: at[3], records: 1, exact: true, before: 3 }]);
  });

  it('a damaged last record is damage (not a torn tail): it was complete', () => {
    const at = starts(words);
    const bad = encodeLog(words);
    bad[bad.length - 1]! ^= 0x01;
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(['first', 'second', 'third', 'fourth']);
    expect(d.damage).toMatchObject([{ offset: at[4], records: 1, exact: true, before: 4 }]);
    expect(d.tail).toBeNull();
  });

  it('a span of garbage in the middle loses the records it covers, and only those', () => {
    const many = Array.from({ length: 20 }, (_, i) => text(`record-${i}`.repeat(1 + (i % 3))));
    const at = starts(many);
    const bad = encodeLog(many);
    bad.fill(0x5a, at[5]! + 3, at[8]! + 2); // from inside record 5 to inside record 8
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(strings([...many.slice(0, 5), ...many.slice(9)]));
    expect(d.damage).toMatchObject([{ offset: at[5], bytes: at[9]! - at[5]!, before: 5 }]);
    expect(d.damage[0]!.exact).toBe(false);
  });

  it('two damaged records far apart are two spans', () => {
    const many = Array.from({ length: 10 }, (_, i) => text(`r${i}`));
    const at = starts(many);
    const bad = encodeLog(many);
    bad[at[2]! + RECORD_HEADER_BYTES]! ^= 1;
    bad[at[7]! + 2]! ^= 1; // marker byte: rescued
    bad[at[7]! + 9]! ^= 1; // and the payload checksum: lost
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(strings(many.filter((_, i) => i !== 2 && i !== 7)));
    expect(d.damage.map((x) => [x.offset, x.before])).toEqual([[at[2], 2], [at[7], 6]]);
  });
});

describe('decodeLog: tails', () => {
  it('cuts a truncated last record and keeps the ones before', () => {
    const log = encodeLog(words.slice(0, 3));
    const last = encodeRecord(words[2]!).length;
    const goodEnd = log.length - last;
    for (let cut = 1; cut < last; cut++) {
      const d = decodeLog(log.subarray(0, log.length - cut));
      expect(strings(d.records)).toEqual(['first', 'second']);
      expect(d.validBytes).toBe(goodEnd);
      expect(d.tail).toEqual({ offset: goodEnd, bytes: last - cut, reason: expect.stringMatching(/truncated/) });
      expect(d.damage).toEqual([]);
      expect(d.problem?.offset).toBe(goodEnd);
    }
  });

  it('a zero-filled tail is torn, not damage', () => {
    const log = encodeLog([text('x')]);
    const zeros = concat(log, new Uint8Array(64));
    expect(decodeLog(zeros)).toMatchObject({ validBytes: log.length, damage: [], tail: { offset: log.length, bytes: 64, reason: expect.stringMatching(/zero-filled/) } });
  });

  it('garbage after the last record that is not a torn record is damage, reported to the end', () => {
    const log = encodeLog([text('x')]);
    const junk = concat(log, text('this is not a record at all!'));
    const d = decodeLog(junk);
    expect(strings(d.records)).toEqual(['x']);
    expect(d.damage).toMatchObject([{ offset: log.length, bytes: junk.length - log.length }]);
  });

  it('damage followed by a torn tail: both reported, the records in between kept', () => {
    const at = starts(words);
    const bad = encodeLog(words).subarray(0, at[4]! + 10).slice();
    bad[at[1]! + RECORD_HEADER_BYTES]! ^= 1;
    const d = decodeLog(bad);
    expect(strings(d.records)).toEqual(['first', 'third', 'fourth']);
    expect(d.damage).toMatchObject([{ offset: at[1], records: 1 }]);
    expect(d.tail).toMatchObject({ offset: at[4], bytes: 10 });
  });
});

describe('decodeLog: format 1 (the old log)', () => {
  it('reads an intact format-1 log', () => {
    const d = decodeLog(makeLogV1(words));
    expect(d).toMatchObject({ version: 1, badHeader: null, damage: [], tail: null, problem: null });
    expect(strings(d.records)).toEqual(strings(words));
  });

  it('cuts a torn format-1 tail', () => {
    const log = makeLogV1(words);
    const d = decodeLog(log.subarray(0, log.length - 3));
    expect(strings(d.records)).toEqual(strings(words.slice(0, 4)));
    expect(d.tail?.reason).toMatch(/truncated record/);
  });

  it('a flipped byte in a format-1 log loses that record only', () => {
    const at = starts(words, 8);
    const payload = makeLogV1(words);
    payload[at[2]! + 8 + 1]! ^= 0x08;
    const d = decodeLog(payload);
    expect(strings(d.records)).toEqual(['first', 'second', 'fourth', 'fifth']);
    expect(d.damage).toMatchObject([{ offset: at[2], records: 1, exact: true, before: 2 }]);
    const length = makeLogV1(words);
    length[at[2]! + 1]! ^= 0x08; // the length field: the payload still matches its crc
    const d2 = decodeLog(length);
    expect(strings(d2.records)).toEqual(strings(words));
    expect(d2.rescued).toEqual([at[2]]);
  });
});

describe('decodeLog: properties', () => {
  it('one changed byte anywhere loses at most the record it sits in, and never invents one', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { minLength: 1, maxLength: 16 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (payloads, pos, mask) => {
        const log = encodeLog(payloads);
        const at = pos % log.length;
        log[at]! ^= mask;
        const d = decodeLog(log);
        expect(isSubsequence(d.records, payloads, at < 8 ? 0 : 1)).toBe(true);
        expect(d.tail).toBeNull();
        let lost = 0;
        for (const x of d.damage) lost += x.records;
        expect(lost).toBe(payloads.length - d.records.length);
        const plan = planLogRepair(log);
        expect(plan.action.kind).toBe('rewrite');
        expect(plan.keepCopy).toBe(true);
        if (plan.action.kind === 'rewrite') expect(lists(decodeLog(plan.action.bytes).records)).toEqual(lists(d.records));
      }),
      { numRuns: 2000 },
    );
  });

  it('the same holds for format-1 logs', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { minLength: 1, maxLength: 12 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (payloads, pos, mask) => {
        const log = makeLogV1(payloads);
        const at = pos % log.length;
        log[at]! ^= mask;
        const d = decodeLog(log);
        // A format-1 record has no header checksum: a length turned shorter than the record can
        // look like a torn tail when the record is the last one. Elsewhere one record at most.
        // The two formats' magics differ in one byte ("AMLOG1" / "AMLOG2", 1 ^ 3 = 2): a change
        // that turns one into the other is a valid format-2 header, read as one (CI found it:
        // seed 693307576), and loses the records, but still invents none.
        const nowFormat2 = at < 8 && LOG_MAGIC.every((b, i) => log[i] === b);
        expect(isSubsequence(d.records, payloads, nowFormat2 ? payloads.length : at < 8 ? 0 : 1)).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // The case CI's seed found, every time: one payload, byte 5 of the magic changed by 3.
    const log = makeLogV1([new Uint8Array(7)]);
    log[5]! ^= 3;
    expect(LOG_MAGIC.every((b, i) => log[i] === b)).toBe(true);
    expect(decodeLog(log).records).toEqual([]);
  });

  it('several changes and a truncation: never throws, keeps order, never invents a record', () => {
    fc.assert(
      fc.property(
        fc.array(payloadArb, { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        (payloads, cutSeed, flips) => {
          const log = encodeLog(payloads);
          const damaged = log.slice(0, cutSeed % (log.length + 1));
          for (const [at, mask] of flips) if (damaged.length > 0) damaged[at % damaged.length]! ^= mask;
          const d = decodeLog(damaged);
          expect(isSubsequence(d.records, payloads, payloads.length)).toBe(true);
          expect(d.validBytes).toBeLessThanOrEqual(damaged.length);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws on random bytes, with or without a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(null, LOG_MAGIC, LOG_MAGIC_V1), (bytes, header) => {
        const input = header ? concat(header, bytes) : bytes;
        const d = decodeLog(input);
        expect(d.validBytes).toBeGreaterThanOrEqual(0);
        expect(d.validBytes).toBeLessThanOrEqual(input.length);
        planLogRepair(input);
      }),
      { numRuns: 500 },
    );
  });
});

describe('planLogRepair', () => {
  it('keeps an intact log, creates a missing one, cuts a torn tail in place', () => {
    const log = encodeLog(words);
    expect(planLogRepair(log)).toMatchObject({ action: { kind: 'keep' }, keepCopy: false, notes: [], lost: [], size: log.length });
    expect(planLogRepair(new Uint8Array(0))).toMatchObject({ action: { kind: 'create' }, keepCopy: false, notes: [] });
    const torn = planLogRepair(log.subarray(0, log.length - 2));
    expect(torn).toMatchObject({ action: { kind: 'truncate', to: starts(words)[4] }, keepCopy: false, lost: [] });
    expect(torn.notes).toEqual([expect.stringMatching(/^truncated record .* at offset \d+; cut the \d+ bytes from there$/)]);
  });

  it('keeps a copy and rewrites a damaged log, naming what was lost', () => {
    const bad = encodeLog(words);
    bad[starts(words)[1]! + RECORD_HEADER_BYTES]! ^= 1;
    const plan = planLogRepair(bad);
    expect(plan.keepCopy).toBe(true);
    expect(plan.action.kind).toBe('rewrite');
    expect(plan.lost).toHaveLength(1);
    expect(plan.notes).toEqual([`lost 1 record at bytes ${starts(words)[1]}..${starts(words)[2]} (22 bytes, record checksum mismatch (length 6)) after record #1 of the 4 read; the 3 records after it are kept`]);
    if (plan.action.kind === 'rewrite') expect(strings(decodeLog(plan.action.bytes).records)).toEqual(['first', 'third', 'fourth', 'fifth']);
  });

  it('converts an intact format-1 log without keeping a copy, and sets garbage aside', () => {
    const plan = planLogRepair(makeLogV1(words));
    expect(plan).toMatchObject({ keepCopy: false, notes: [], fromVersion: 1, action: { kind: 'rewrite' } });
    if (plan.action.kind === 'rewrite') expect(plan.action.bytes).toEqual(encodeLog(words));
    expect(planLogRepair(text('garbage, not a log'))).toMatchObject({ keepCopy: true, action: { kind: 'create' }, notes: [expect.stringMatching(/bad magic header\); starting a fresh log/)] });
  });
});
