// The text of a unit row (archive-unit-rows.ts): a header line with what a unit's records share
// (generation, archive time, peer ids), then one compact line per record, each checksummed. A
// record's batched entries stay references to the sheets stored with it (archive-refs.ts), and are
// made whole from those sheets when the record is read. Writing and reading that text is all this
// module does; which unit rows exist and when their search rows are made is archive-unit-rows.ts.

import { crc32 } from 'node:zlib';
import type { ArchiveRecord, ArchivedState } from './archive.js';
import { SheetReader, refOf, slimEntry } from './archive-refs.js';

/** What a unit's records share: the first line of its body. */
export type Header = [gen: string, archivedAt: number, peers: string[]];
/**
 * A task's line: its spec as [batch key, index] when it is a task of a batch (else the entry), its
 * facts as [batch key, index] each when in an activity batch (else [fact key, entry]), and what the
 * record holds that its unit does not share.
 */
export type Line = [id: string, state: ArchivedState, finishedAt: number, attempts: number, peer: number, result: unknown, spec: unknown, facts: unknown[][], extra?: Partial<ArchiveRecord>];

/** A line with its checksum (a tab and the crc32 of the JSON, 8 hex digits). */
function checked(json: string): string {
  return `${json}\t${crc32(json).toString(16).padStart(8, '0')}`;
}

/** The JSON of a checked line; undefined when it fails its checksum. */
export function unchecked(line: string): unknown {
  const tab = line.length - 9;
  if (tab < 0 || line[tab] !== '\t') return undefined;
  const json = line.slice(0, tab);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(tab + 1)) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** The body of a unit row: its header, then one line per record (its batched entries slim). */
export function unitBody(records: readonly ArchiveRecord[]): string {
  const first = records[0];
  const header: Header = [first?.gen ?? '', first?.archivedAt ?? 0, []];
  const peerIndex = new Map<string, number>();
  const peerOf = (p: string | null): number => {
    if (p === null) return -1;
    let i = peerIndex.get(p);
    if (i === undefined) peerIndex.set(p, (i = header[2].push(p) - 1));
    return i;
  };
  const lines = records.map((r) => {
    const facts: unknown[][] = [];
    // A batched entry is [batch key, index] (its sheet holds the values), without a slim copy of
    // each record first (the archive writes a line for every task that leaves, on every replica).
    for (const key in r.facts) {
      const v = r.facts[key];
      const ref = refOf(v);
      facts.push(ref?.b === 'acts' ? [ref.k, ref.i] : [key, slimEntry(v, ref)]);
    }
    const extra: Partial<ArchiveRecord> = {};
    if (r.gen !== header[0]) extra.gen = r.gen;
    if (r.archivedAt !== header[1]) extra.archivedAt = r.archivedAt;
    if (r.coAssignees !== undefined) extra.coAssignees = r.coAssignees;
    if (r.partial !== undefined) extra.partial = r.partial;
    const specRef = refOf(r.spec);
    const spec = specRef?.b === 'segs' ? [specRef.k, specRef.i] : slimEntry(r.spec, specRef);
    const line: Line = [r.id, r.state, r.finishedAt, r.attempts, peerOf(r.peer), r.result, spec, facts];
    if (Object.keys(extra).length > 0) line.push(extra);
    return checked(JSON.stringify(line));
  });
  return [checked(JSON.stringify(header)), ...lines].join('\n');
}

/** The whole record of a line; undefined when a sheet it refers to is missing or does not hold its entry. */
function recordOf(header: Header, line: Line, read: SheetReader): ArchiveRecord | undefined {
  const [id, state, finishedAt, attempts, peer, result, spec, factList, extra] = line;
  const wholeSpec = Array.isArray(spec) ? read.spec(id, { b: 'segs', k: spec[0] as string, i: spec[1] as number }) : spec;
  if (wholeSpec === undefined) return undefined;
  const facts: Record<string, unknown> = {};
  for (const f of factList) {
    if (typeof f[1] !== 'number') {
      facts[f[0] as string] = f[1];
      continue;
    }
    const got = read.fact({ b: 'acts', k: f[0] as string, i: f[1] });
    if (!got) return undefined;
    facts[got[0]] = got[1];
  }
  const rec: ArchiveRecord = { id, spec: wholeSpec, facts, state, finishedAt, result, peer: peer < 0 ? null : (header[2][peer] ?? null), attempts, gen: header[0], archivedAt: header[1] };
  return extra ? { ...rec, ...extra } : rec;
}

/** The whole record of a checked line; undefined when it cannot be read or made whole. */
export function recordOfText(header: Header, text: string, read: SheetReader): ArchiveRecord | undefined {
  const line = unchecked(text) as Line | undefined;
  if (!Array.isArray(line) || line.length < 8 || !Array.isArray(line[7])) return undefined;
  try {
    return recordOf(header, line, read);
  } catch {
    return undefined;
  }
}

/** A unit body's header and its task lines; undefined when the header fails its checksum. */
export function parseUnit(body: string): { header: Header; lines: string[] } | undefined {
  const header = headerOf(body);
  const nl = body.indexOf('\n');
  return header && { header, lines: nl < 0 ? [] : body.slice(nl + 1).split('\n') };
}

/** A unit body's header alone (reading one task needs no other line); undefined when it fails its checksum. */
export function headerOf(body: string): Header | undefined {
  const nl = body.indexOf('\n');
  const header = unchecked(nl < 0 ? body : body.slice(0, nl)) as Header | undefined;
  return Array.isArray(header) && header.length === 3 && Array.isArray(header[2]) ? header : undefined;
}

/** A unit body read for lookups: its header, and each task's line by id (the last line of an id wins, as when its rows are made). */
export interface UnitText {
  header: Header | undefined;
  lines: Map<string, string>;
}

/**
 * Indexes a unit body's lines by task id in one pass. A unit holds up to thousands of records (one
 * append); finding a line by searching the body for each task asked about scanned megabytes per
 * task, and a status counting 2,000 such tasks took 90 s of a starved peer's CPU.
 */
export function unitText(body: string): UnitText {
  const lines = new Map<string, string>();
  let at = body.indexOf('\n') + 1;
  while (at > 0 && at < body.length) {
    let end = body.indexOf('\n', at);
    if (end < 0) end = body.length;
    const id = lineId(body, at, end);
    if (id !== undefined) lines.set(id, body.slice(at, end));
    at = end + 1;
  }
  return { header: headerOf(body), lines };
}

/** The task id a line starts with (`["<id>",...`); undefined when the line does not start so. */
function lineId(body: string, at: number, end: number): string | undefined {
  if (body.charCodeAt(at) !== 91 || body.charCodeAt(at + 1) !== 34) return undefined;
  let escaped = false;
  let i = at + 2;
  for (; i < end; i++) {
    const c = body.charCodeAt(i);
    if (c === 34) break;
    if (c === 92) {
      escaped = true;
      i++;
    }
  }
  if (i >= end) return undefined;
  if (!escaped) return body.slice(at + 2, i);
  try {
    const id = JSON.parse(body.slice(at + 1, i + 1)) as unknown;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
