// Checks the on-disk byte formats: CRC vectors, record and snapshot framing, round trips.
// Reading damaged logs is log-reader.test.ts.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isMeshError } from '@agentmesh/scheduler';
import {
  LOG_MAGIC,
  LOG_MAGIC_V1,
  MAX_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_HEADER_BYTES_V1,
  RECORD_MARKER,
  SNAPSHOT_MAGIC,
  crc32,
  decodeSnapshot,
  encodeLog,
  encodeRecord,
  encodeRecordV1,
  encodeSnapshot,
} from '../src/log-codec.js';
import { decodeLog } from '../src/log-reader.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

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
    expect(LOG_MAGIC_V1.length).toBe(8);
    expect(SNAPSHOT_MAGIC.length).toBe(8);
    expect(new TextDecoder().decode(LOG_MAGIC)).toBe('AMLOG2\n\0');
    expect(new TextDecoder().decode(LOG_MAGIC_V1)).toBe('AMLOG1\n\0');
    expect(Array.from(LOG_MAGIC)).not.toEqual(Array.from(SNAPSHOT_MAGIC));
  });
});

describe('records', () => {
  it('encode marker, length, payload crc, header crc and payload, little-endian', () => {
    const rec = encodeRecord(text('abc'));
    const view = new DataView(rec.buffer);
    expect(rec.length).toBe(RECORD_HEADER_BYTES + 3);
    expect(Array.from(rec.subarray(0, 4))).toEqual(Array.from(RECORD_MARKER));
    expect(view.getUint32(4, true)).toBe(3);
    expect(view.getUint32(8, true)).toBe(crc32(text('abc')));
    expect(view.getUint32(12, true)).toBe(crc32(rec.subarray(0, 12)));
    expect(Array.from(rec.subarray(16))).toEqual(Array.from(text('abc')));
  });

  it('format 1 records are length, crc and payload', () => {
    const rec = encodeRecordV1(text('abc'));
    const view = new DataView(rec.buffer);
    expect(rec.length).toBe(RECORD_HEADER_BYTES_V1 + 3);
    expect(view.getUint32(0, true)).toBe(3);
    expect(view.getUint32(4, true)).toBe(crc32(text('abc')));
    expect(Array.from(rec.subarray(8))).toEqual(Array.from(text('abc')));
  });

  it('rejects empty and oversized payloads', () => {
    expectCode(() => encodeRecord(new Uint8Array(0)), 'INVALID_ARGUMENT');
    expectCode(() => encodeRecord(new Uint8Array(MAX_PAYLOAD_BYTES + 1)), 'INVALID_ARGUMENT');
    expectCode(() => encodeRecordV1(new Uint8Array(0)), 'INVALID_ARGUMENT');
  });

  it('encodeLog is the header followed by the records', () => {
    const payloads = [text('one'), text('two')];
    expect(Array.from(encodeLog(payloads))).toEqual([...LOG_MAGIC, ...encodeRecord(payloads[0]!), ...encodeRecord(payloads[1]!)]);
    expect(Array.from(encodeLog([]))).toEqual(Array.from(LOG_MAGIC));
  });

  it('round-trips any list of payloads', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { maxLength: 20 }), (payloads) => {
        const log = encodeLog(payloads);
        const d = decodeLog(log);
        expect(d.problem).toBeNull();
        expect(d.version).toBe(2);
        expect(d.validBytes).toBe(log.length);
        expect(d.records.map((r) => Array.from(r))).toEqual(payloads.map((p) => Array.from(p)));
      }),
    );
  });

  it('works on a view into a larger buffer', () => {
    const log = encodeLog([text('one'), text('two')]);
    const big = new Uint8Array(log.length + 10);
    big.set(log, 5);
    const d = decodeLog(big.subarray(5, 5 + log.length));
    expect(d.problem).toBeNull();
    expect(d.records.map((r) => new TextDecoder().decode(r))).toEqual(['one', 'two']);
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
