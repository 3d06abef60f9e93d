// Reading a log that may be damaged, and deciding how to repair it. One bad byte costs at most the
// record it sits in: a record whose payload fails its checksum is skipped by its (checksummed)
// length, and after an unreadable header the reader looks for the next record marker whose header
// checksum holds. A torn tail (the last record cut short by a crash) is cut as always. Pure and
// browser-safe: the file storage and the simulator's in-memory storage repair the same way.

import {
  LOG_MAGIC,
  LOG_MAGIC_V1,
  MAX_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_HEADER_BYTES_V1,
  RECORD_MARKER,
  crc32,
  encodeLog,
  startsWith,
} from './log-codec.js';

/** A span of the log that could not be read: the records in it are lost. */
export interface LogDamage {
  /** Offset of the first unreadable byte in the log. */
  offset: number;
  /** Length of the unreadable span. */
  bytes: number;
  /** Records lost in the span: exactly this many when `exact`, otherwise at least this many. */
  records: number;
  exact: boolean;
  /** Records read before the span: the lost ones sat between records[before - 1] and records[before]. */
  before: number;
  reason: string;
  /**
   * The damaged payload as it is on disk (it failed its checksum), when the span is exactly one
   * record of at most 4 MiB: for naming what was lost (damaged-update.ts), never for loading.
   */
  payload?: Uint8Array;
}

/** The end of the log cut short by a crash: the last record was never completely written. */
export interface TornTail {
  offset: number;
  bytes: number;
  reason: string;
}

export interface DecodedLog {
  /** Every intact record, in order, as copies (records after damage included). */
  records: Uint8Array[];
  /** Format of the records (1: old records without marker, 2: current); null when this is not a log. */
  version: 1 | 2 | null;
  /** Why the 8-byte header was not accepted although records were read after it; null when it is fine. */
  badHeader: string | null;
  /** Spans that could not be read, in order. */
  damage: LogDamage[];
  /** Records whose header was damaged but whose payload still matches its checksum: kept (offsets). */
  rescued: number[];
  /** A torn last record, to be cut; null when the log ends cleanly (or in damage). */
  tail: TornTail | null;
  /** End of the last intact record (LOG_MAGIC.length when there is none); 0 when this is not a log. */
  validBytes: number;
  /** The first problem found, null when the whole input is an intact log. */
  problem: null | { offset: number; reason: string };
}

type Probe =
  | { kind: 'ok'; end: number; payload: Uint8Array }
  /** A record of known extent (its header checksum holds) whose payload fails its checksum. */
  | { kind: 'bad'; end: number; length: number }
  /** A record whose stated length runs past the end of the input. */
  | { kind: 'torn'; length: number }
  /** Fewer bytes left than a record header. */
  | { kind: 'short' }
  /** No readable record header here. */
  | { kind: 'none' };

interface RecordFormat {
  version: 1 | 2;
  headerBytes: number;
  probe(b: Uint8Array, view: DataView, p: number): Probe;
  /** The next offset >= from where a record header can be read, or b.length. */
  next(b: Uint8Array, view: DataView, from: number): number;
}

/** Largest damaged payload kept in a LogDamage for naming what was lost. */
const MAX_KEPT_PAYLOAD = 4 * 1024 * 1024;

/** Bytes of CRC a format-1 resynchronisation may compute (it has no marker to look for). */
const V1_SCAN_BUDGET = 64 * 1024 * 1024;

const FORMAT_2: RecordFormat = {
  version: 2,
  headerBytes: RECORD_HEADER_BYTES,
  probe(b, view, p) {
    const left = b.length - p;
    if (left < RECORD_HEADER_BYTES) return { kind: 'short' };
    for (let i = 0; i < RECORD_MARKER.length; i++) if (b[p + i] !== RECORD_MARKER[i]) return { kind: 'none' };
    if (crc32(b.subarray(p, p + 12)) !== view.getUint32(p + 12, true)) return { kind: 'none' };
    const length = view.getUint32(p + 4, true);
    if (length === 0 || length > MAX_PAYLOAD_BYTES) return { kind: 'none' };
    const end = p + RECORD_HEADER_BYTES + length;
    if (end > b.length) return { kind: 'torn', length };
    const payload = b.subarray(p + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== view.getUint32(p + 8, true)) return { kind: 'bad', end, length };
    return { kind: 'ok', end, payload };
  },
  next(b, view, from) {
    let q = from;
    while (q + RECORD_HEADER_BYTES <= b.length) {
      q = b.indexOf(RECORD_MARKER[0]!, q);
      if (q < 0 || q + RECORD_HEADER_BYTES > b.length) break;
      if (this.probe(b, view, q).kind !== 'none') return q;
      q++;
    }
    return b.length;
  },
};

const FORMAT_1: RecordFormat = {
  version: 1,
  headerBytes: RECORD_HEADER_BYTES_V1,
  probe(b, view, p) {
    const left = b.length - p;
    if (left < RECORD_HEADER_BYTES_V1) return { kind: 'short' };
    const length = view.getUint32(p, true);
    if (length === 0 || length > MAX_PAYLOAD_BYTES) return { kind: 'none' };
    const end = p + RECORD_HEADER_BYTES_V1 + length;
    if (end > b.length) return { kind: 'torn', length };
    const payload = b.subarray(p + RECORD_HEADER_BYTES_V1, end);
    // Without a header checksum a mismatch may be a bad length as well as a bad payload.
    if (crc32(payload) !== view.getUint32(p + 4, true)) return { kind: 'none' };
    return { kind: 'ok', end, payload };
  },
  next(b, view, from) {
    let budget = V1_SCAN_BUDGET;
    for (let q = from; q + RECORD_HEADER_BYTES_V1 < b.length; q++) {
      const length = view.getUint32(q, true);
      if (length === 0 || length > b.length - q - RECORD_HEADER_BYTES_V1) continue;
      budget -= length;
      if (budget < 0) break; // give up: the rest counts as damaged
      if (crc32(b.subarray(q + RECORD_HEADER_BYTES_V1, q + RECORD_HEADER_BYTES_V1 + length)) === view.getUint32(q + 4, true)) return q;
    }
    return b.length;
  },
};

/** Offsets of the length and payload-checksum fields inside a record header. */
const FIELDS = { 1: { length: 0, crc: 4 }, 2: { length: 4, crc: 8 } } as const;

function allZero(b: Uint8Array, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

type Body = Omit<DecodedLog, 'version' | 'badHeader'>;

/** Reads records of one format from `start` on, skipping what cannot be read. */
function readRecords(b: Uint8Array, start: number, f: RecordFormat): Body {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const records: Uint8Array[] = [];
  const damage: LogDamage[] = [];
  const rescued: number[] = [];
  let tail: TornTail | null = null;
  let validBytes = start;
  let problem: Body['problem'] = null;
  let last: LogDamage | null = null;
  const lose = (offset: number, end: number, exact: boolean, reason: string): void => {
    problem ??= { offset, reason };
    if (last && last.offset + last.bytes === offset && last.before === records.length) {
      last.bytes += end - offset;
      last.records++;
      last.exact &&= exact;
      delete last.payload;
      return;
    }
    last = { offset, bytes: end - offset, records: 1, exact, before: records.length, reason };
    const body = b.subarray(offset + f.headerBytes, end);
    if (exact && body.length > 0 && body.length <= MAX_KEPT_PAYLOAD) last.payload = body.slice();
    damage.push(last);
  };
  const keep = (payload: Uint8Array, end: number): void => {
    records.push(payload.slice());
    validBytes = end;
  };
  const fields = FIELDS[f.version];
  let p = start;
  while (p < b.length) {
    const r = f.probe(b, view, p);
    if (r.kind === 'ok') {
      keep(r.payload, r.end);
      p = r.end;
      continue;
    }
    if (r.kind === 'bad') {
      lose(p, r.end, true, `record checksum mismatch (length ${r.length})`);
      p = r.end;
      continue;
    }
    const q = f.next(b, view, p + 1);
    // [p, q) holds no readable header. If it is one record whose header alone was hit (marker,
    // length or header checksum) its payload still matches the checksum in the header: keep it.
    const bodyAt = p + f.headerBytes;
    if (r.kind !== 'short' && q > bodyAt && crc32(b.subarray(bodyAt, q)) === view.getUint32(p + fields.crc, true)) {
      rescued.push(p);
      problem ??= { offset: p, reason: 'damaged record header (payload intact)' };
      keep(b.subarray(bodyAt, q), q);
      p = q;
      continue;
    }
    const oneRecord = q > bodyAt && view.getUint32(p + fields.length, true) === q - bodyAt;
    if (q >= b.length) {
      // Nothing readable after p: a torn tail (cut as always), or damage running to the end.
      const left = b.length - p;
      let torn: string | null = null;
      if (r.kind === 'short') torn = `truncated record header (${left} of ${f.headerBytes} bytes)`;
      else if (r.kind === 'torn') torn = `truncated record (length ${r.length}, only ${left - f.headerBytes} bytes left)`;
      else if (allZero(b, p)) torn = `zero-filled tail (${left} bytes)`;
      if (torn) {
        tail = { offset: p, bytes: left, reason: torn };
        problem ??= { offset: p, reason: torn };
      } else {
        lose(p, b.length, oneRecord, oneRecord ? 'record checksum mismatch' : 'unreadable record at the end of the log');
      }
      break;
    }
    lose(p, q, oneRecord, oneRecord ? 'record checksum mismatch' : 'unreadable record header');
    p = q;
  }
  return { records, damage, rescued, tail, validBytes, problem };
}

const notALog = (reason: string): DecodedLog => ({
  records: [],
  version: null,
  badHeader: null,
  damage: [],
  rescued: [],
  tail: null,
  validBytes: 0,
  problem: { offset: 0, reason },
});

/**
 * Decodes a whole log file (header included), in format 2 or the older format 1. Never throws:
 * what could not be read is reported in `damage` / `tail` / `badHeader`, and every intact record
 * is returned, also those after damage. A bad header does not discard the records after it.
 */
export function decodeLog(bytes: Uint8Array): DecodedLog {
  const headerBytes = LOG_MAGIC.length;
  if (bytes.length < headerBytes) {
    const truncated = startsWith(LOG_MAGIC, bytes) || startsWith(LOG_MAGIC_V1, bytes);
    return notALog(truncated ? `truncated log header (${bytes.length} of ${headerBytes} bytes)` : 'not a log file (bad magic header)');
  }
  const claimed = startsWith(bytes, LOG_MAGIC) ? FORMAT_2 : startsWith(bytes, LOG_MAGIC_V1) ? FORMAT_1 : null;
  if (claimed) {
    const body = readRecords(bytes, headerBytes, claimed);
    if (body.damage.length === 0) return { ...body, version: claimed.version, badHeader: null };
    // One flipped byte can turn one version's header into the other's: read the other way too.
    const other = readRecords(bytes, headerBytes, claimed === FORMAT_2 ? FORMAT_1 : FORMAT_2);
    if (other.records.length <= body.records.length) return { ...body, version: claimed.version, badHeader: null };
    const badHeader = `the header says format ${claimed.version} but the records are format ${3 - claimed.version}`;
    return { ...other, version: claimed === FORMAT_2 ? 1 : 2, badHeader, problem: { offset: 0, reason: badHeader } };
  }
  // No header to go by: format 2 (found by its markers, fast) first, then the old format.
  let version: 1 | 2 = 2;
  let best = readRecords(bytes, headerBytes, FORMAT_2);
  if (best.records.length === 0) {
    version = 1;
    best = readRecords(bytes, headerBytes, FORMAT_1);
  }
  if (best.records.length === 0) return notALog('not a log file (bad magic header)');
  const badHeader = 'bad magic header';
  return { ...best, version, badHeader, problem: { offset: 0, reason: badHeader } };
}

/** How to bring a durable log back to a clean format-2 log, and what to tell the user. */
export interface LogRepair {
  /** The records to load. */
  records: Uint8Array[];
  /** What was found, one line each (without the file's name); empty when the log is intact. */
  notes: string[];
  /** Spans whose records are lost. */
  lost: LogDamage[];
  /**
   * keep: the log is fine; create: write a fresh empty log; truncate: cut a torn tail at `to`;
   * rewrite: replace the log by `bytes` (atomically, never in place).
   */
  action: { kind: 'keep' } | { kind: 'create' } | { kind: 'truncate'; to: number } | { kind: 'rewrite'; bytes: Uint8Array };
  /** Keep a copy of the log as it is before acting: it held something that could not be read. */
  keepCopy: boolean;
  /** Bytes of the log once the action is done. */
  size: number;
  /** Format the records were read in (1: the rewrite converts an old log); null when there was no log. */
  fromVersion: 1 | 2 | null;
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** One line naming what a damaged span cost. */
export function describeDamage(d: LogDamage, total: number): string {
  const lost = `${d.exact ? '' : 'at least '}${plural(d.records, 'record')}`;
  return `lost ${lost} at bytes ${d.offset}..${d.offset + d.bytes} (${d.bytes} bytes, ${d.reason}) after record #${d.before} of the ${total} read; the ${total - d.before} records after it are kept`;
}

/** Decides the repair of a durable log from its bytes (empty: there is none yet). */
export function planLogRepair(bytes: Uint8Array): LogRepair {
  if (bytes.length === 0) return { records: [], notes: [], lost: [], action: { kind: 'create' }, keepCopy: false, size: LOG_MAGIC.length, fromVersion: null };
  const d = decodeLog(bytes);
  if (d.version === null) {
    return {
      records: [],
      notes: [`${d.problem?.reason}; starting a fresh log`],
      lost: [],
      action: { kind: 'create' },
      keepCopy: true,
      size: LOG_MAGIC.length,
      fromVersion: null,
    };
  }
  const notes: string[] = [];
  if (d.badHeader) notes.push(`${d.badHeader}; read the ${plural(d.records.length, 'record')} after it anyway`);
  for (const at of d.rescued) notes.push(`record at offset ${at} had a damaged header but an intact payload; kept it`);
  for (const damage of d.damage) notes.push(describeDamage(damage, d.records.length));
  if (d.tail) notes.push(`${d.tail.reason} at offset ${d.tail.offset}; cut the ${d.tail.bytes} bytes from there`);
  const fromVersion = d.version;
  const damaged = d.badHeader !== null || d.damage.length > 0 || d.rescued.length > 0;
  if (damaged || d.version === 1) {
    const clean = encodeLog(d.records);
    return { records: d.records, notes, lost: d.damage, action: { kind: 'rewrite', bytes: clean }, keepCopy: damaged, size: clean.length, fromVersion };
  }
  if (d.tail) return { records: d.records, notes, lost: [], action: { kind: 'truncate', to: d.validBytes }, keepCopy: false, size: d.validBytes, fromVersion };
  return { records: d.records, notes, lost: [], action: { kind: 'keep' }, keepCopy: false, size: bytes.length, fromVersion };
}
