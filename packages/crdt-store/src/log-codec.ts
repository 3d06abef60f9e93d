// Byte formats of a peer's durable state: an append-only log of checksummed records and a
// single checksummed snapshot. Pure and browser-safe (Uint8Array/DataView only) so the file
// storage and the in-memory storage of the simulator share exactly the same encoding. Reading a
// damaged log (skipping bad records, finding the next good one) is log-reader.ts.

import { MeshError } from '@agentmesh/scheduler';

/** First 8 bytes of every log file (format 2: records with a sync marker and a header checksum). */
export const LOG_MAGIC: Uint8Array = new TextEncoder().encode('AMLOG2\n\0');
/** First 8 bytes of a log in format 1 (records without marker), still read and then rewritten as format 2. */
export const LOG_MAGIC_V1: Uint8Array = new TextEncoder().encode('AMLOG1\n\0');
/** First 8 bytes of every snapshot file. */
export const SNAPSHOT_MAGIC: Uint8Array = new TextEncoder().encode('AMSNAP1\0');
/** Largest payload of one record or snapshot (256 MiB); anything longer is rejected as absurd. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
/**
 * First 4 bytes of every format-2 record: after damage the reader looks for the next place where
 * these bytes start a header whose checksum holds, so one bad byte costs one record, not the rest.
 */
export const RECORD_MARKER: Uint8Array = Uint8Array.of(0xa7, 0x52, 0x4c, 0xe5);
/**
 * Bytes in front of each format-2 record payload: the marker, u32 LE length, u32 LE
 * crc32(payload), u32 LE crc32 of those first 12 header bytes.
 */
export const RECORD_HEADER_BYTES = 16;
/** Bytes in front of each format-1 record payload: u32 LE length, u32 LE crc32(payload). */
export const RECORD_HEADER_BYTES_V1 = 8;

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

/** prefix + [u32 LE length][u32 LE crc32(payload)][payload]: a snapshot file, or a format-1 record. */
function frame(prefix: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + RECORD_HEADER_BYTES_V1 + payload.length);
  out.set(prefix, 0);
  const view = new DataView(out.buffer);
  view.setUint32(prefix.length, payload.length, true);
  view.setUint32(prefix.length + 4, crc32(payload), true);
  out.set(payload, prefix.length + RECORD_HEADER_BYTES_V1);
  return out;
}

/**
 * One format-2 log record: RECORD_MARKER, [u32 LE length][u32 LE crc32(payload)]
 * [u32 LE crc32(the 12 bytes before)], payload. The header checksum tells a damaged header (look
 * for the next record) from a damaged payload (skip exactly this record).
 * Empty payloads are rejected: a zero-filled tail (what some filesystems show after a crash)
 * would otherwise risk decoding as valid empty records, since crc32 of nothing is 0.
 */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  checkPayload(payload, 'log record', 1);
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  out.set(RECORD_MARKER, 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, payload.length, true);
  view.setUint32(8, crc32(payload), true);
  view.setUint32(12, crc32(out.subarray(0, 12)), true);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

/** One format-1 record, [u32 LE length][u32 LE crc32(payload)][payload] (for tests and old logs). */
export function encodeRecordV1(payload: Uint8Array): Uint8Array {
  checkPayload(payload, 'log record', 1);
  return frame(new Uint8Array(0), payload);
}

/** A whole format-2 log: LOG_MAGIC followed by one record per payload. */
export function encodeLog(payloads: readonly Uint8Array[]): Uint8Array {
  const records = payloads.map(encodeRecord);
  let total = LOG_MAGIC.length;
  for (const r of records) total += r.length;
  const out = new Uint8Array(total);
  out.set(LOG_MAGIC, 0);
  let at = LOG_MAGIC.length;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/** True when `bytes` begins with `prefix`. */
export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
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
  const headerBytes = SNAPSHOT_MAGIC.length + RECORD_HEADER_BYTES_V1;
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
