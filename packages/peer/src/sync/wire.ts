// The sync wire format: y-protocols' sync messages (the ones y-websocket speaks) plus the mesh's
// own additions: a state-vector notice that expects no reply, an outer type that tags a message
// with the document generation it belongs to, ephemeral messages (bytes for the application that
// never touch the document) and round-trip probes. Pure encoding and checks, no state.
//
// Outer types (the first varint): 0 sync (first generation), 8 sync tagged with a generation,
// 9 ephemeral, 10 probe. docs/doc-schema.md describes them.

import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';

/** y-websocket's outer message type for sync messages. */
export const MESSAGE_SYNC = 0;
export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const SYNC_UPDATE = 2;
/**
 * Mesh only (not y-websocket): "here is my state vector", with no reply expected. Peers announce
 * their state with it (on connect and at each anti-entropy round); a receiver that sees it lacks
 * something pulls it with a step 1, from one peer at a time.
 */
export const SYNC_NOTICE = 3;
/** Outer message type of sync messages tagged with a document generation (after the first). */
export const MESSAGE_SYNC_GEN = 8;
/** Outer message type of ephemeral messages: [9][varUint8Array bytes]. Never stored or applied. */
export const MESSAGE_EPHEMERAL = 9;
/**
 * Outer message type of round-trip probes: [10][0 ping | 1 pong][float64 sender's clock]. A ping is
 * answered by a pong carrying the same time back; nothing else.
 */
export const MESSAGE_PROBE = 10;
/** The first generation's name: its messages go out untagged, in plain y-protocols format. */
export const GENESIS_NAME = '0.0.0.';

export interface SyncMessage {
  sub: number;
  payload: Uint8Array;
  gen: string;
}

export function encodeSyncMessage(sub: number, payload: Uint8Array, gen = GENESIS_NAME): Uint8Array {
  const enc = encoding.createEncoder();
  if (gen === GENESIS_NAME) encoding.writeVarUint(enc, MESSAGE_SYNC);
  else {
    encoding.writeVarUint(enc, MESSAGE_SYNC_GEN);
    encoding.writeVarString(enc, gen);
  }
  encoding.writeVarUint(enc, sub);
  encoding.writeVarUint8Array(enc, payload);
  return encoding.toUint8Array(enc);
}

export function decodeSyncMessage(data: Uint8Array): SyncMessage {
  const dec = decoding.createDecoder(data);
  const type = decoding.readVarUint(dec);
  if (type !== MESSAGE_SYNC && type !== MESSAGE_SYNC_GEN) throw new Error(`unknown message type ${type}`);
  let gen = GENESIS_NAME;
  if (type === MESSAGE_SYNC_GEN) {
    gen = decoding.readVarString(dec);
    if (gen.length > 200) throw new Error('generation name too long');
  }
  const sub = decoding.readVarUint(dec);
  if (sub !== SYNC_STEP1 && sub !== SYNC_STEP2 && sub !== SYNC_UPDATE && sub !== SYNC_NOTICE) throw new Error(`unknown sync message ${sub}`);
  const payload = readBytes(dec);
  if (decoding.hasContent(dec)) throw new Error('trailing bytes after sync message');
  return { sub, payload, gen };
}

/**
 * lib0's readVarUint8Array with a bounds check: lib0 makes a view on the underlying ArrayBuffer,
 * which for a slice of a larger buffer would read past the message instead of failing.
 */
function readBytes(dec: decoding.Decoder): Uint8Array {
  const len = decoding.readVarUint(dec);
  if (len > dec.arr.byteLength - dec.pos) throw new Error('length beyond the end of the message');
  return decoding.readUint8Array(dec, len);
}

/** Any message the mesh's sync engine reads. */
export type MeshMessage =
  | ({ type: 'sync' } & SyncMessage)
  | { type: 'ephemeral'; data: Uint8Array }
  | { type: 'probe'; pong: boolean; time: number };

export function encodeEphemeral(data: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_EPHEMERAL);
  encoding.writeVarUint8Array(enc, data);
  return encoding.toUint8Array(enc);
}

export function encodeProbe(pong: boolean, time: number): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_PROBE);
  encoding.writeUint8(enc, pong ? 1 : 0);
  encoding.writeFloat64(enc, time);
  return encoding.toUint8Array(enc);
}

/** Decodes any mesh message; throws (an Error saying what is wrong) on anything else. */
export function decodeMeshMessage(data: Uint8Array): MeshMessage {
  const dec = decoding.createDecoder(data);
  const type = decoding.readVarUint(dec);
  if (type === MESSAGE_EPHEMERAL) {
    const bytes = readBytes(dec);
    if (decoding.hasContent(dec)) throw new Error('trailing bytes after ephemeral message');
    return { type: 'ephemeral', data: bytes };
  }
  if (type === MESSAGE_PROBE) {
    if (data.byteLength !== 10) throw new Error('malformed probe');
    const flag = decoding.readUint8(dec);
    const time = decoding.readFloat64(dec);
    if (flag > 1 || !Number.isFinite(time) || decoding.hasContent(dec)) throw new Error('malformed probe');
    return { type: 'probe', pong: flag === 1, time };
  }
  return { type: 'sync', ...decodeSyncMessage(data) };
}

/** Checks that bytes are a well-formed Yjs update without touching any document. */
export function checkUpdate(update: Uint8Array): string | null {
  try {
    Y.decodeUpdate(update);
    return null;
  } catch (e) {
    return `malformed update: ${(e as Error).message || String(e)}`;
  }
}

/** Origin of updates that came in from the mesh (so they are not echoed back out). */
export class MeshOrigin {
  constructor(readonly peer: string) {}
}

/** Origin of updates replayed from this peer's own storage at start. */
export const STORAGE_ORIGIN = Symbol('agentmesh-storage');
