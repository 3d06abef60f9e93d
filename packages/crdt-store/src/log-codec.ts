// Byte formats of a peer's durable state: an append-only log of checksummed records and a
// single checksummed snapshot. Pure and browser-safe (Uint8Array/DataView only) so the file
// storage and the in-memory storage of the simulator share exactly the same encoding.

import { MeshError } from '@agentmesh/scheduler';

/** First 8 bytes of every log file. */
export const LOG_MAGIC: Uint8Array = new TextEncoder().encode('AMLOG1\n\0');
/** First 8 bytes of every snapshot file. */
export const SNAPSHOT_MAGIC: Uint8Array = new TextEncoder().encode('AMSNAP1\0');
/** Largest payload of one record or snapshot (256 MiB); anything longer is rejected as absurd. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
/** Bytes in front of each record payload: u32 LE length, u32 LE crc32(payload). */
export const RECORD_HEADER_BYTES = 8;

const CRC_TABLE = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Standard IEEE CRC-32 (as in zlib, PNG, Ethernet). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function checkPayload(payload: Uint8Array, what: string, minBytes: number): void {
  if (!(payload instanceof Uint8Array)) {
    throw new MeshError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
  }
  if (payload.length < minBytes || payload.length > MAX_PAYLOAD_BYTES) {
    throw new MeshError(
      'INVALID_ARGUMENT',
      `${what} of ${payload.length} bytes is outside ${minBytes}..${MAX_PAYLOAD_BYTES} bytes`,
    );
  }
}

function frame(prefix: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + RECORD_HEADER_BYTES + payload.length);
  out.set(prefix, 0);
  const view = new DataView(out.buffer);
  view.setUint32(prefix.length, payload.length, true);
  view.setUint32(prefix.length + 4, crc32(payload), true);
  out.set(payload, prefix.length + RECORD_HEADER_BYTES);
  return out;
}

/**
 * One log record: [u32 LE length][u32 LE crc32(payload)][payload].
 * Empty payloads are rejected: a zero-filled tail (what some filesystems show after a crash)
 * would otherwise decode as endless valid empty records, since crc32 of nothing is 0.
 */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  checkPayload(payload, 'log record', 1);
  return frame(new Uint8Array(0), payload);
}

export interface DecodedLog {
  /** Every intact record before the first damage, as copies. */
  records: Uint8Array[];
  /** Length of the intact prefix (header included); 0 when the header itself is bad. */
  validBytes: number;
  /** Where and why decoding stopped early; null when the whole input is intact. */
  problem: null | { offset: number; reason: string };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Decodes a whole log file (magic header included). Never throws: damage is reported in `problem`. */
export function decodeLog(bytes: Uint8Array): DecodedLog {
  const records: Uint8Array[] = [];
  if (!startsWith(bytes, LOG_MAGIC)) {
    const reason =
      bytes.length < LOG_MAGIC.length && startsWith(LOG_MAGIC, bytes)
        ? `truncated log header (${bytes.length} of ${LOG_MAGIC.length} bytes)`
        : 'not a log file (bad magic header)';
    return { records, validBytes: 0, problem: { offset: 0, reason } };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = LOG_MAGIC.length;
  const stop = (reason: string): DecodedLog => ({ records, validBytes: offset, problem: { offset, reason } });
  while (offset < bytes.length) {
    const left = bytes.length - offset;
    if (left < RECORD_HEADER_BYTES) return stop(`truncated record header (${left} of ${RECORD_HEADER_BYTES} bytes)`);
    const length = view.getUint32(offset, true);
    const crc = view.getUint32(offset + 4, true);
    if (length === 0 || length > MAX_PAYLOAD_BYTES) return stop(`bad record length ${length}`);
    if (length > left - RECORD_HEADER_BYTES) {
      return stop(`truncated record (length ${length}, only ${left - RECORD_HEADER_BYTES} bytes left)`);
    }
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length);
    if (crc32(payload) !== crc) return stop(`record checksum mismatch (length ${length})`);
    records.push(payload.slice());
    offset += RECORD_HEADER_BYTES + length;
  }
  return { records, validBytes: offset, problem: null };
}

/** A snapshot file: SNAPSHOT_MAGIC + [u32 LE length][u32 LE crc32(payload)][payload]. */
export function encodeSnapshot(update: Uint8Array): Uint8Array {
  checkPayload(update, 'snapshot', 0);
  return frame(SNAPSHOT_MAGIC, update);
}

/** Returns the snapshot payload; throws MeshError('CORRUPT_SNAPSHOT') saying what is wrong. */
export function decodeSnapshot(bytes: Uint8Array): Uint8Array {
  const fail = (reason: string): never => {
    throw new MeshError('CORRUPT_SNAPSHOT', `corrupt snapshot: ${reason}`, { bytes: bytes.length });
  };
  const headerBytes = SNAPSHOT_MAGIC.length + RECORD_HEADER_BYTES;
  if (!startsWith(bytes, SNAPSHOT_MAGIC)) fail('not a snapshot file (bad magic header)');
  if (bytes.length < headerBytes) fail(`truncated header (${bytes.length} of ${headerBytes} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(SNAPSHOT_MAGIC.length, true);
  const crc = view.getUint32(SNAPSHOT_MAGIC.length + 4, true);
  if (length !== bytes.length - headerBytes) {
    fail(`length field says ${length} bytes but ${bytes.length - headerBytes} follow the header`);
  }
  const payload = bytes.subarray(headerBytes);
  if (crc32(payload) !== crc) fail('checksum mismatch');
  return payload.slice();
}

/**
 * First 8 bytes of a log record's payload that holds a whole new generation's document (a Yjs
 * update of it follows). A Yjs v1 update never starts with 0xff in practice (its first varuint
 * counts the clients it holds), so ordinary updates and generation records tell apart.
 */
export const GENERATION_RECORD_PREFIX: Uint8Array = new Uint8Array([0xff, 0x41, 0x4d, 0x47, 0x45, 0x4e, 0x00, 0x01]);

/** The payload of a generation record: GENERATION_RECORD_PREFIX + `snapshot` (a Yjs update of the whole document). */
export function encodeGenerationRecord(snapshot: Uint8Array): Uint8Array {
  checkPayload(snapshot, 'generation snapshot', 0);
  const record = new Uint8Array(GENERATION_RECORD_PREFIX.length + snapshot.length);
  record.set(GENERATION_RECORD_PREFIX);
  record.set(snapshot, GENERATION_RECORD_PREFIX.length);
  return record;
}

/** True when a logged update is a generation record (starts with GENERATION_RECORD_PREFIX). */
export function isGenerationRecord(u: Uint8Array): boolean {
  return startsWith(u, GENERATION_RECORD_PREFIX);
}

/**
 * The document inside a generation record, as a view into `u` (no copy). Throws
 * MeshError('INVALID_ARGUMENT') when `u` is not a generation record.
 */
export function generationRecordPayload(u: Uint8Array): Uint8Array {
  if (!isGenerationRecord(u)) throw new MeshError('INVALID_ARGUMENT', 'not a generation record (missing its 8-byte prefix)');
  return u.subarray(GENERATION_RECORD_PREFIX.length);
}
