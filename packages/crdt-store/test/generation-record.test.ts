// Checks the framing of generation records (a whole new generation's document logged behind an
// 8-byte prefix): the exact bytes (what peers already have in their logs), recognition, and that
// ordinary Yjs updates are never taken for one.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as Y from 'yjs';
import { isMeshError } from '@agentmesh/scheduler';
import {
  GENERATION_RECORD_PREFIX,
  encodeGenerationRecord,
  encodeRecord,
  generationRecordPayload,
  isGenerationRecord,
  LOG_MAGIC,
} from '../src/log-codec.js';
import { decodeLog } from '../src/log-reader.js';

/** The prefix as peers have written it since generations exist: 0xff 'AMGEN' 0x00 0x01. */
const PREFIX_BYTES = [0xff, 0x41, 0x4d, 0x47, 0x45, 0x4e, 0x00, 0x01];

describe('generation records', () => {
  it('are the 8-byte prefix followed by the snapshot, byte for byte', () => {
    expect(Array.from(GENERATION_RECORD_PREFIX)).toEqual(PREFIX_BYTES);
    const snapshot = Uint8Array.of(1, 2, 3, 0, 255);
    expect(Array.from(encodeGenerationRecord(snapshot))).toEqual([...PREFIX_BYTES, 1, 2, 3, 0, 255]);
    expect(Array.from(encodeGenerationRecord(new Uint8Array(0)))).toEqual(PREFIX_BYTES);
  });

  it('round-trip any snapshot, and the payload is a view without a copy', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (snapshot) => {
        const rec = encodeGenerationRecord(snapshot);
        expect(isGenerationRecord(rec)).toBe(true);
        const payload = generationRecordPayload(rec);
        expect(Array.from(payload)).toEqual(Array.from(snapshot));
        expect(payload.buffer).toBe(rec.buffer);
        expect(payload.byteOffset).toBe(rec.byteOffset + 8);
      }),
    );
  });

  it('survive the log: a logged generation record decodes to the same bytes', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 'v');
    const rec = encodeGenerationRecord(Y.encodeStateAsUpdate(doc));
    const log = new Uint8Array([...LOG_MAGIC, ...encodeRecord(Uint8Array.of(7)), ...encodeRecord(rec)]);
    const { records } = decodeLog(log);
    expect(records.map(isGenerationRecord)).toEqual([false, true]);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, generationRecordPayload(records[1]!));
    expect(copy.getMap('m').get('k')).toBe('v');
  });

  it('are not recognised from a shorter or different prefix', () => {
    expect(isGenerationRecord(new Uint8Array(0))).toBe(false);
    expect(isGenerationRecord(Uint8Array.from(PREFIX_BYTES.slice(0, 7)))).toBe(false);
    for (let i = 0; i < 8; i++) {
      const bytes = Uint8Array.from([...PREFIX_BYTES, 9]);
      bytes[i] = bytes[i]! ^ 1;
      expect(isGenerationRecord(bytes)).toBe(false);
    }
    try {
      generationRecordPayload(Uint8Array.of(1, 2, 3));
      throw new Error('expected a throw');
    } catch (e) {
      expect(isMeshError(e) && e.code).toBe('INVALID_ARGUMENT');
    }
  });

  it('are never confused with an ordinary Yjs update', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string(), fc.constant(null))), { maxLength: 20 }), fc.boolean(), (writes, del) => {
        const doc = new Y.Doc();
        const updates: Uint8Array[] = [];
        doc.on('update', (u: Uint8Array) => updates.push(u));
        for (const [k, v] of writes) doc.getMap('m').set(k, v);
        if (del && writes[0]) doc.getMap('m').delete(writes[0][0]);
        for (const u of [...updates, Y.encodeStateAsUpdate(doc)]) expect(isGenerationRecord(u)).toBe(false);
      }),
    );
  });
});
