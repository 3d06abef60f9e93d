// What a websocket client may write, decided before @y/websocket-server sees a message: a
// well-formed sync message (state vector, or an update that passes checkUpdate) or awareness
// message is passed on, an unknown outer type (auth, query-awareness) is ignored, anything else is
// invalid. Pure and never throws.

import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import type { RawData } from 'ws';
import { MESSAGE_SYNC, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE, checkUpdate } from '../sync.js';

/** y-websocket's outer message type for awareness messages. */
export const MESSAGE_AWARENESS = 1;

export type Verdict = { kind: 'ok'; update?: Uint8Array } | { kind: 'invalid'; reason: string } | { kind: 'ignore'; reason: string };

/** Decides what to do with one incoming y-websocket message; never throws. */
export function inspectMessage(bytes: Uint8Array): Verdict {
  try {
    const dec = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(dec);
    if (type === MESSAGE_SYNC) {
      const sub = decoding.readVarUint(dec);
      const payload = decoding.readVarUint8Array(dec);
      if (decoding.hasContent(dec)) return { kind: 'invalid', reason: 'trailing bytes after sync message' };
      if (sub === SYNC_STEP1) {
        try {
          Y.decodeStateVector(payload);
        } catch (e) {
          return { kind: 'invalid', reason: `bad state vector: ${(e as Error).message || String(e)}` };
        }
        return { kind: 'ok' };
      }
      if (sub === SYNC_STEP2 || sub === SYNC_UPDATE) {
        const problem = checkUpdate(payload);
        return problem === null ? { kind: 'ok', update: payload } : { kind: 'invalid', reason: problem };
      }
      return { kind: 'invalid', reason: `unknown sync message ${sub}` };
    }
    if (type === MESSAGE_AWARENESS) {
      const payload = decoding.readVarUint8Array(dec);
      if (decoding.hasContent(dec)) return { kind: 'invalid', reason: 'trailing bytes after awareness message' };
      // The same reads y-protocols' applyAwarenessUpdate does, so what passes here cannot throw there.
      const inner = decoding.createDecoder(payload);
      const n = decoding.readVarUint(inner);
      for (let i = 0; i < n; i++) {
        decoding.readVarUint(inner);
        decoding.readVarUint(inner);
        JSON.parse(decoding.readVarString(inner));
      }
      return { kind: 'ok' };
    }
    return { kind: 'ignore', reason: `unknown message type ${type}` };
  } catch (e) {
    return { kind: 'invalid', reason: `undecodable message: ${(e as Error).message || String(e)}` };
  }
}

/** The bytes of a `ws` message, whatever shape `ws` delivered them in. */
export function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) {
    const all = Buffer.concat(data);
    return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
