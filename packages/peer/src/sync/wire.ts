// The sync wire format: y-protocols' sync messages (the ones y-websocket speaks) plus the mesh's
// own additions: a state-vector notice that expects no reply, and an outer type that tags a
// message with the document generation it belongs to. Pure encoding and checks, no state.

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
  const payload = decoding.readVarUint8Array(dec);
  if (decoding.hasContent(dec)) throw new Error('trailing bytes after sync message');
  return { sub, payload, gen };
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
