// The line format of the file archive's buckets: one JSON record per line followed by a tab and
// the crc32 of the JSON (8 hex digits), so a bad byte is noticed instead of read as another
// result, and costs that line only. Lines without a checksum (written before it existed) are still
// read. Pure and browser-safe; the file handling is node-archive.ts.

import { crc32 } from './log-codec.js';
import { isArchiveRecord, type ArchiveRecord } from './archive.js';

const utf8 = new TextEncoder();
const HEX8 = /^[0-9a-f]{8}$/;

const crcHex = (json: string): string => crc32(utf8.encode(json)).toString(16).padStart(8, '0');

/** One archive line: JSON (id first, so a line can be found by its start), a tab, its crc32, a newline. */
export function encodeArchiveLine(r: ArchiveRecord): string {
  const { id, ...rest } = r;
  const json = JSON.stringify({ id, ...rest });
  return `${json}\t${crcHex(json)}\n`;
}

function parseJson(json: string): ArchiveRecord | null {
  try {
    const r = JSON.parse(json) as unknown;
    return isArchiveRecord(r) ? r : null;
  } catch {
    return null;
  }
}

/**
 * The records of one line (without its newline). Usually one; two or more when a damaged newline
 * ran lines together (each still proven by its checksum). `bad` when anything in the line could
 * not be read (a record is lost).
 */
export function parseArchiveLine(line: string): { records: ArchiveRecord[]; bad: boolean } {
  const parts = line.split('\t');
  if (parts.length === 1) {
    const legacy = parseJson(line); // a line from before checksums
    return legacy ? { records: [legacy], bad: false } : { records: [], bad: true };
  }
  const records: ArchiveRecord[] = [];
  let bad = parts.length > 2 || parts[1]!.length !== 8;
  let json = parts[0]!;
  for (let k = 1; k < parts.length; k++) {
    const crc = parts[k]!.slice(0, 8);
    const r = HEX8.test(crc) && crcHex(json) === crc ? parseJson(json) : null;
    if (r) records.push(r);
    else bad = true;
    json = parts[k]!.slice(9); // past the checksum and the character that should have been a newline
  }
  return { records, bad };
}

/** What a bucket file holds, and what is wrong with it. */
export interface ArchiveText {
  /** Every readable record, in file order (a later record of an id wins). */
  records: ArchiveRecord[];
  /** Lines that could not be read, whole or in part (1-based). */
  badLines: number[];
  /** Bytes after the last newline that are not a whole record: a torn append, to be cut. */
  tornBytes: number;
  /** The last record lost only its newline (kept, but the file must be repaired). */
  unterminated: boolean;
}

/** Parses a bucket file's bytes. */
export function parseArchiveText(bytes: Uint8Array): ArchiveText {
  const end = bytes.lastIndexOf(0x0a) + 1;
  const text = new TextDecoder().decode(bytes.subarray(0, end));
  const records: ArchiveRecord[] = [];
  const badLines: number[] = [];
  let line = 0;
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start);
    const got = parseArchiveLine(text.slice(start, nl));
    line++;
    records.push(...got.records);
    if (got.bad) badLines.push(line);
    start = nl + 1;
  }
  let tornBytes = bytes.length - end;
  let unterminated = false;
  if (tornBytes > 0) {
    // A whole checksummed record whose newline was hit is damage, not a torn append: keep it.
    const tail = new TextDecoder().decode(bytes.subarray(end));
    const parts = tail.split('\t');
    if (parts.length === 2 && parts[1]!.length === 9) {
      const got = parseArchiveLine(`${parts[0]}\t${parts[1]!.slice(0, 8)}`);
      if (!got.bad) {
        records.push(...got.records);
        unterminated = true;
        tornBytes = 0;
      }
    }
  }
  return { records, badLines, tornBytes, unterminated };
}
