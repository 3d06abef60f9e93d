// Checks the on-disk byte formats: CRC vectors, round trips, and that decoding damaged or
// random input never throws and always returns the intact records before the damage.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isMeshError } from '@agentmesh/scheduler';
import {
  LOG_MAGIC,
  MAX_PAYLOAD_BYTES,
  SNAPSHOT_MAGIC,
  crc32,
  decodeLog,
  decodeSnapshot,
  encodeRecord,
  encodeSnapshot,
} from '../src/log-codec.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function makeLog(payloads: Uint8Array[]): Uint8Array {
  const parts = [LOG_MAGIC, ...payloads.map(encodeRecord)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isMeshError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected MeshError ${code}`);
}

const payloadArb = fc.uint8Array({ minLength: 1, maxLength: 64 });

describe('crc32', () => {
  it('matches the standard IEEE check values', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(text('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d);
  });
});

describe('magic headers', () => {
  it('are 8 bytes and different', () => {
    expect(LOG_MAGIC.length).toBe(8);
    expect(SNAPSHOT_MAGIC.length).toBe(8);
    expect(Array.from(LOG_MAGIC)).not.toEqual(Array.from(SNAPSHOT_MAGIC));
  });
});

describe('records', () => {
  it('encodes length, crc and payload little-endian', () => {
    const rec = encodeRecord(text('abc'));
    const view = new DataView(rec.buffer);
    expect(rec.length).toBe(11);
    expect(view.getUint32(0, true)).toBe(3);
    expect(view.getUint32(4, true)).toBe(crc32(text('abc')));
    expect(Array.from(rec.subarray(8))).toEqual(Array.from(text('abc')));
  });

  it('rejects empty and oversized payloads', () => {
    expectCode(() => encodeRecord(new Uint8Array(0)), 'INVALID_ARGUMENT');
    expectCode(() => encodeRecord(new Uint8Array(MAX_PAYLOAD_BYTES + 1)), 'INVALID_ARGUMENT');
  });

  it('round-trips any list of payloads', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { maxLength: 20 }), (payloads) => {
        const log = makeLog(payloads);
        const d = decodeLog(log);
        expect(d.problem).toBeNull();
        expect(d.validBytes).toBe(log.length);
        expect(d.records.map((r) => Array.from(r))).toEqual(payloads.map((p) => Array.from(p)));
      }),
    );
  });

  it('works on a view into a larger buffer', () => {
    const log = makeLog([text('one'), text('two')]);
    const big = new Uint8Array(log.length + 10);
    big.set(log, 5);
    const d = decodeLog(big.subarray(5, 5 + log.length));
    expect(d.problem).toBeNull();
    expect(d.records.map((r) => new TextDecoder().decode(r))).toEqual(['one', 'two']);
  });
});

describe('decodeLog on damage', () => {
  it('reports a wrong or missing header at offset 0 with no records', () => {
    for (const bytes of [new Uint8Array(0), LOG_MAGIC.subarray(0, 3), text('NOTALOG!xxxxxxxxxxxx'), SNAPSHOT_MAGIC]) {
      const d = decodeLog(bytes);
      expect(d.records).toEqual([]);
      expect(d.validBytes).toBe(0);
      expect(d.problem?.offset).toBe(0);
    }
    expect(decodeLog(LOG_MAGIC.subarray(0, 3)).problem?.reason).toMatch(/truncated log header/);
    expect(decodeLog(text('NOTALOG!')).problem?.reason).toMatch(/bad magic/);
  });

  it('cuts a truncated last record and keeps the ones before', () => {
    const log = makeLog([text('first'), text('second'), text('third')]);
    const goodEnd = log.length - encodeRecord(text('third')).length;
    for (let cut = 1; cut < encodeRecord(text('third')).length; cut++) {
      const d = decodeLog(log.subarray(0, log.length - cut));
      expect(d.records.map((r) => new TextDecoder().decode(r))).toEqual(['first', 'second']);
      expect(d.validBytes).toBe(goodEnd);
      expect(d.problem?.offset).toBe(goodEnd);
      expect(d.problem?.reason).toMatch(/truncated/);
    }
  });

  it('stops at a checksum mismatch', () => {
    const log = makeLog([text('first'), text('second'), text('third')]);
    const secondAt = 8 + encodeRecord(text('first')).length;
    const damaged = log.slice();
    damaged[secondAt + 8 + 2]! ^= 0x01; // inside the payload of 'second'
    const d = decodeLog(damaged);
    expect(d.records.map((r) => new TextDecoder().decode(r))).toEqual(['first']);
    expect(d.problem).toEqual({ offset: secondAt, reason: expect.stringMatching(/checksum/) });
    expect(d.validBytes).toBe(secondAt);
  });

  it('treats zero-filled tails and absurd lengths as damage', () => {
    const log = makeLog([text('x')]);
    const zeros = new Uint8Array(log.length + 64);
    zeros.set(log);
    expect(decodeLog(zeros)).toMatchObject({ validBytes: log.length, problem: { reason: 'bad record length 0' } });
    const absurd = new Uint8Array(log.length + 8);
    absurd.set(log);
    new DataView(absurd.buffer).setUint32(log.length, 0xffffffff, true);
    expect(decodeLog(absurd).problem?.reason).toMatch(/bad record length/);
  });

  it('never throws on random bytes, with or without a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withHeader) => {
        const input = withHeader ? Uint8Array.from([...LOG_MAGIC, ...bytes]) : bytes;
        const d = decodeLog(input);
        expect(d.validBytes).toBeGreaterThanOrEqual(0);
        expect(d.validBytes).toBeLessThanOrEqual(input.length);
        expect(d.problem === null).toBe(d.validBytes === input.length && input.length >= 8);
      }),
      { numRuns: 500 },
    );
  });

  it('truncations and bit flips of a valid log return every record before the damaged one', () => {
    fc.assert(
      fc.property(
        fc.array(payloadArb, { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 3 }),
        (payloads, cutSeed, flips) => {
          const log = makeLog(payloads);
          const damaged = log.slice(0, cutSeed % (log.length + 1));
          for (const [at, bit] of flips) {
            if (damaged.length === 0) break;
            damaged[at % damaged.length]! ^= 1 << bit;
          }
          // The first byte that differs from the original (two flips of one bit cancel out).
          let firstDamage = damaged.length;
          for (let i = 0; i < damaged.length; i++) {
            if (damaged[i] !== log[i]) {
              firstDamage = i;
              break;
            }
          }
          const d = decodeLog(damaged);
          // Record boundaries of the intact log; every record ending at or before the first
          // damaged byte must come back exactly; nothing after a reported problem is returned.
          let end = 8;
          let intact = 0;
          for (const p of payloads) {
            end += 8 + p.length;
            if (end <= firstDamage) intact++;
          }
          if (firstDamage < 8) {
            expect(d.records).toEqual([]);
            return;
          }
          expect(d.records.length).toBeGreaterThanOrEqual(intact);
          if (d.problem) expect(d.validBytes).toBe(d.problem.offset);
          // Records past the damage are never returned altered: a flip of at most 3 bits in a
          // record is caught by its CRC, so what comes back is a prefix of the original records.
          expect(d.records.length).toBeLessThanOrEqual(payloads.length);
          for (let i = 0; i < d.records.length; i++) {
            expect(Array.from(d.records[i]!)).toEqual(Array.from(payloads[i]!));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('snapshots', () => {
  it('round-trip, including an empty payload', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (payload) => {
        const enc = encodeSnapshot(payload);
        expect(Array.from(enc.subarray(0, 8))).toEqual(Array.from(SNAPSHOT_MAGIC));
        expect(Array.from(decodeSnapshot(enc))).toEqual(Array.from(payload));
      }),
    );
  });

  it('throws CORRUPT_SNAPSHOT with a reason for each kind of damage', () => {
    const enc = encodeSnapshot(text('hello snapshot'));
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /bad magic/],
      [LOG_MAGIC, /bad magic/],
      [enc.subarray(0, 12), /truncated header/],
      [enc.subarray(0, enc.length - 1), /length field/],
      [Uint8Array.from([...enc, 0]), /length field/],
      [(() => { const b = enc.slice(); b[b.length - 1]! ^= 0x80; return b; })(), /checksum/],
    ];
    for (const [bytes, reason] of cases) {
      expect(() => decodeSnapshot(bytes)).toThrow(reason);
      expectCode(() => decodeSnapshot(bytes), 'CORRUPT_SNAPSHOT');
    }
  });

  it('decodeSnapshot only throws MeshError CORRUPT_SNAPSHOT on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.boolean(), (bytes, withMagic) => {
        const input = withMagic ? Uint8Array.from([...SNAPSHOT_MAGIC, ...bytes]) : bytes;
        try {
          decodeSnapshot(input);
        } catch (e) {
          expect(isMeshError(e, 'CORRUPT_SNAPSHOT')).toBe(true);
        }
      }),
    );
  });
});
