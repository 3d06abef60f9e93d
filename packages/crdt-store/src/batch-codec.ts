// Compact binary encodings of the document's batch entries (docs/doc-schema.md, schema 2): a task
// batch (`segs`: many task specs and who runs round 1 of each) and an activity batch (`acts`: the
// claims, results, failures and releases one peer wrote in one turn). One Yjs entry then stands for
// many tasks, and the peer id, creation time and type are written once per batch instead of once
// per fact. Decoding never throws: anything malformed is a rejection with a reason.
// Version 2 of either batch is version 1 with the author's 64-byte signature right after the version
// byte (docs/security.md, "Signed entries": it signs the Merkle root of the batch's leaves);
// withSignature() turns an encoded version 1 into version 2. Version 3 (what peers write now) has a
// second signature after it, over the SHA-256 of the batch's body (the bytes after the header), so a
// reader checks a whole batch with one hash of its bytes; the Merkle root's signature is there for
// the single entries split out of it (withSignatures, batchBody).

import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import type { StrategyName, TaskSpec } from '@agentmesh/scheduler';
import { LIMITS, isId, parseTaskSpec, type Parsed } from './schema.js';

/** Largest number of tasks in one task batch, and of records in one activity batch. */
export const BATCH_MAX = 4096;
const VERSION = 1;
/** Version 1 with a 64-byte signature after the version byte. */
const SIGNED_VERSION = 2;
const SIG_BYTES = 64;

/** Version 2 of an encoded version 1 batch: the same bytes with `sig` after the version byte. */
export function withSignature(encoded: Uint8Array, sig: Uint8Array): Uint8Array {
  if (encoded[0] !== VERSION || sig.length !== SIG_BYTES) throw new Error('withSignature takes a version 1 batch and a 64-byte signature');
  const out = new Uint8Array(encoded.length + SIG_BYTES);
  out[0] = SIGNED_VERSION;
  out.set(sig, 1);
  out.set(encoded.subarray(1), 1 + SIG_BYTES);
  return out;
}

/** Version 1 with two 64-byte signatures after the version byte: the Merkle root's, then the body's. */
const SIGNED_BODY_VERSION = 3;

/** Version 3 of an encoded version 1 batch: `sig` (over the Merkle root) and `bodySig` (over the body) after the version byte. */
export function withSignatures(encoded: Uint8Array, sig: Uint8Array, bodySig: Uint8Array): Uint8Array {
  if (encoded[0] !== VERSION || sig.length !== SIG_BYTES || bodySig.length !== SIG_BYTES) throw new Error('withSignatures takes a version 1 batch and two 64-byte signatures');
  const out = new Uint8Array(encoded.length + 2 * SIG_BYTES);
  out[0] = SIGNED_BODY_VERSION;
  out.set(sig, 1);
  out.set(bodySig, 1 + SIG_BYTES);
  out.set(encoded.subarray(1), 1 + 2 * SIG_BYTES);
  return out;
}

/** The body of an encoded batch (what follows its header: what a version 3 body signature covers); undefined for an unknown version. */
export function batchBody(bytes: Uint8Array): Uint8Array | undefined {
  const v = bytes[0];
  if (v === VERSION) return bytes.subarray(1);
  if (v === SIGNED_VERSION) return bytes.length > 1 + SIG_BYTES ? bytes.subarray(1 + SIG_BYTES) : undefined;
  if (v === SIGNED_BODY_VERSION) return bytes.length > 1 + 2 * SIG_BYTES ? bytes.subarray(1 + 2 * SIG_BYTES) : undefined;
  return undefined;
}

/** Reads the version byte (and the signatures of versions 2 and 3); undefined for an unknown version. */
function readHeader(dec: decoding.Decoder): { sig?: Uint8Array; bodySig?: Uint8Array } | undefined {
  const v = decoding.readUint8(dec);
  if (v === VERSION) return {};
  if (v === SIGNED_VERSION) return { sig: decoding.readUint8Array(dec, SIG_BYTES).slice() };
  if (v !== SIGNED_BODY_VERSION) return undefined;
  const sig = decoding.readUint8Array(dec, SIG_BYTES).slice();
  return { sig, bodySig: decoding.readUint8Array(dec, SIG_BYTES).slice() };
}

/** The signatures a header held, as a decoded batch keeps them. */
function sigsOf(header: { sig?: Uint8Array; bodySig?: Uint8Array }): { sig?: Uint8Array; bodySig?: Uint8Array } {
  return header.sig ? (header.bodySig ? { sig: header.sig, bodySig: header.bodySig } : { sig: header.sig }) : {};
}
const STRATEGIES: readonly StrategyName[] = ['capacity-weighted', 'random', 'least-load', 'max-capacity', 'multi-objective'];

// Task flags: which optional fields follow. Task i of the batch under key K has the id `K.i`
// unless the batch names it (an explicit id or an idempotency key's id).
const F_ID = 1;
const F_PAYLOAD = 2;
const F_PRIORITY = 4;
const F_REQUIRES = 8;
const F_PREFERS = 16;
const F_DEPENDS = 32;
const F_ATTEMPTS = 64;
const F_TIMEOUT = 128;
const F_NOT_BEFORE = 256;
const F_STRATEGY = 512;
const F_KEY = 1024;
const F_EXCLUSIVE = 2048;
const F_ASSIGNED = 4096;

/** The id of task `index` of the task batch under `key` (unless the batch gives it an explicit id). */
export function batchTaskId(key: string, index: number): string {
  return `${key}.${index}`;
}

export interface BatchTask {
  spec: TaskSpec;
  /** Who runs round 1 (see TaskFacts.assignee); absent: bid on. */
  assignee?: string;
}

export interface TaskBatch {
  createdBy: string;
  createdAt: number;
  tasks: BatchTask[];
  /** The author's signature of the Merkle root (decoded from a version 2 or 3 batch; ignored by the encoder). */
  sig?: Uint8Array;
  /** The author's signature of the body (decoded from a version 3 batch; ignored by the encoder). */
  bodySig?: Uint8Array;
}

function writeStrings(enc: encoding.Encoder, list: readonly string[]): void {
  encoding.writeVarUint(enc, list.length);
  for (const s of list) encoding.writeVarString(enc, s);
}

function readStrings(dec: decoding.Decoder): string[] {
  const n = decoding.readVarUint(dec);
  if (n > LIMITS.listLength) throw new Error('list too long');
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(decoding.readVarString(dec));
  return out;
}

/**
 * Encodes a task batch stored under `key`. Every spec must have been built with createdBy and
 * createdAt of the batch; a task whose id is not `batchTaskId(key, i)` carries it explicitly.
 */
export function encodeTaskBatch(key: string, batch: TaskBatch): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeUint8(enc, VERSION);
  encoding.writeVarString(enc, batch.createdBy);
  encoding.writeFloat64(enc, batch.createdAt);
  const types = [...new Set(batch.tasks.map((t) => t.spec.type))];
  const peers = [...new Set(batch.tasks.flatMap((t) => (t.assignee === undefined ? [] : [t.assignee])))];
  writeStrings(enc, types);
  writeStrings(enc, peers);
  encoding.writeVarUint(enc, batch.tasks.length);
  batch.tasks.forEach(({ spec, assignee }, i) => {
    let flags = 0;
    if (spec.id !== batchTaskId(key, i)) flags |= F_ID;
    if (spec.payload !== null && spec.payload !== undefined) flags |= F_PAYLOAD;
    if (spec.priority !== 0) flags |= F_PRIORITY;
    if (spec.requires.length > 0) flags |= F_REQUIRES;
    if (spec.prefers.length > 0) flags |= F_PREFERS;
    if (spec.dependsOn.length > 0) flags |= F_DEPENDS;
    if (spec.maxAttempts !== 3) flags |= F_ATTEMPTS;
    if (spec.timeoutMs !== 0) flags |= F_TIMEOUT;
    if (spec.notBefore !== 0) flags |= F_NOT_BEFORE;
    if (spec.strategy !== 'capacity-weighted') flags |= F_STRATEGY;
    if (spec.key !== undefined) flags |= F_KEY;
    if (spec.exclusive) flags |= F_EXCLUSIVE;
    if (assignee !== undefined) flags |= F_ASSIGNED;
    encoding.writeVarUint(enc, flags);
    encoding.writeVarUint(enc, types.indexOf(spec.type));
    if (flags & F_ID) encoding.writeVarString(enc, spec.id);
    if (flags & F_PAYLOAD) encoding.writeAny(enc, spec.payload as never);
    if (flags & F_PRIORITY) encoding.writeFloat64(enc, spec.priority);
    if (flags & F_REQUIRES) writeStrings(enc, spec.requires);
    if (flags & F_PREFERS) writeStrings(enc, spec.prefers);
    if (flags & F_DEPENDS) writeStrings(enc, spec.dependsOn);
    if (flags & F_ATTEMPTS) encoding.writeVarUint(enc, spec.maxAttempts);
    if (flags & F_TIMEOUT) encoding.writeVarUint(enc, spec.timeoutMs);
    if (flags & F_NOT_BEFORE) encoding.writeFloat64(enc, spec.notBefore);
    if (flags & F_STRATEGY) encoding.writeUint8(enc, STRATEGIES.indexOf(spec.strategy));
    if (flags & F_KEY) encoding.writeVarString(enc, spec.key!);
    if (flags & F_ASSIGNED) encoding.writeVarUint(enc, peers.indexOf(assignee!));
  });
  return encoding.toUint8Array(enc);
}

/** Decodes and validates a task batch stored under `key` (every spec as strictly as a single task). */
export function decodeTaskBatch(key: string, bytes: unknown): Parsed<TaskBatch> {
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: 'task batch is not binary' };
  try {
    const dec = decoding.createDecoder(bytes);
    const header = readHeader(dec);
    if (!header) return { ok: false, reason: 'unknown task batch version' };
    const createdBy = decoding.readVarString(dec);
    const createdAt = decoding.readFloat64(dec);
    if (!isId(createdBy)) return { ok: false, reason: 'task batch createdBy is not a peer id' };
    const types = readStrings(dec);
    const peers = readStrings(dec);
    if (!peers.every(isId)) return { ok: false, reason: 'task batch assignee is not a peer id' };
    const n = decoding.readVarUint(dec);
    if (n === 0 || n > BATCH_MAX) return { ok: false, reason: `task batch holds ${n} tasks (1..${BATCH_MAX})` };
    const tasks: BatchTask[] = [];
    for (let i = 0; i < n; i++) {
      const flags = decoding.readVarUint(dec);
      const type = types[decoding.readVarUint(dec)];
      if (type === undefined) return { ok: false, reason: 'task batch type index out of range' };
      const raw: Record<string, unknown> = { id: flags & F_ID ? decoding.readVarString(dec) : batchTaskId(key, i), type, createdAt, createdBy };
      if (flags & F_PAYLOAD) {
        const start = dec.pos;
        raw.payload = decoding.readAny(dec);
        if (dec.pos - start > LIMITS.valueBytes || !isPlainJson(raw.payload)) return { ok: false, reason: `task ${i} of the batch: payload is not plain JSON within the size limit` };
      }
      if (flags & F_PRIORITY) raw.priority = decoding.readFloat64(dec);
      if (flags & F_REQUIRES) raw.requires = readStrings(dec);
      if (flags & F_PREFERS) raw.prefers = readStrings(dec);
      if (flags & F_DEPENDS) raw.dependsOn = readStrings(dec);
      if (flags & F_ATTEMPTS) raw.maxAttempts = decoding.readVarUint(dec);
      if (flags & F_TIMEOUT) raw.timeoutMs = decoding.readVarUint(dec);
      if (flags & F_NOT_BEFORE) raw.notBefore = decoding.readFloat64(dec);
      if (flags & F_STRATEGY) raw.strategy = STRATEGIES[decoding.readUint8(dec)] ?? '?';
      if (flags & F_KEY) raw.key = decoding.readVarString(dec);
      if (flags & F_EXCLUSIVE) raw.exclusive = true;
      let assignee: string | undefined;
      if (flags & F_ASSIGNED) {
        assignee = peers[decoding.readVarUint(dec)];
        if (assignee === undefined) return { ok: false, reason: 'task batch assignee index out of range' };
      }
      const spec = parseTaskSpec(raw, undefined, true);
      if (!spec.ok) return { ok: false, reason: `task ${i} of the batch: ${spec.reason}` };
      tasks.push(assignee === undefined ? { spec: spec.value } : { spec: spec.value, assignee });
    }
    if (decoding.hasContent(dec)) return { ok: false, reason: 'trailing bytes after the task batch' };
    return { ok: true, value: { createdBy, createdAt, tasks, ...sigsOf(header) } };
  } catch (e) {
    return { ok: false, reason: `undecodable task batch: ${(e as Error).message || String(e)}` };
  }
}

// ---- activity batches ------------------------------------------------------------------------------

export type ActivityRecord =
  | { kind: 'claim'; task: string; round: number; at: number; score: number }
  | { kind: 'done'; task: string; round: number; at: number; ms: number; result: unknown }
  | { kind: 'fail'; task: string; round: number; at: number; error: string; permanent?: boolean }
  /** The author gives back a round it holds (an assigned round it will not start): an expiry of it. */
  | { kind: 'release'; task: string; round: number; at: number };

export interface ActivityBatch {
  /** The author: every record is its own claim, result, failure or release. */
  peer: string;
  records: ActivityRecord[];
  /** The author's signature of the Merkle root (decoded from a version 2 or 3 batch; ignored by the encoder). */
  sig?: Uint8Array;
  /** The author's signature of the body (decoded from a version 3 batch; ignored by the encoder). */
  bodySig?: Uint8Array;
}

const KINDS = ['claim', 'done', 'fail', 'release'] as const;
/** Record kind of a permanent failure (a fail that ends the task at once). */
const PERMANENT_FAIL = 4;

/** Splits `<batch key>.<index>` ids (index without leading zeros) into their batch key and index. */
function splitTaskId(id: string): [string, number] | undefined {
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const tail = id.slice(dot + 1);
  if (!/^(0|[1-9][0-9]{0,5})$/.test(tail)) return undefined;
  return [id.slice(0, dot), Number(tail)];
}

export function encodeActivity(batch: ActivityBatch): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeUint8(enc, VERSION);
  encoding.writeVarString(enc, batch.peer);
  const base = batch.records.length > 0 ? Math.round(batch.records[0]!.at) : 0;
  encoding.writeFloat64(enc, base);
  const prefixes: string[] = [];
  const prefixIndex = new Map<string, number>();
  const refs = batch.records.map((r) => {
    const split = splitTaskId(r.task);
    if (!split) return undefined;
    let idx = prefixIndex.get(split[0]);
    if (idx === undefined) {
      idx = prefixes.push(split[0]) - 1;
      prefixIndex.set(split[0], idx);
    }
    return [idx, split[1]] as const;
  });
  encoding.writeVarUint(enc, prefixes.length);
  for (const p of prefixes) encoding.writeVarString(enc, p);
  encoding.writeVarUint(enc, batch.records.length);
  batch.records.forEach((r, i) => {
    encoding.writeUint8(enc, r.kind === 'fail' && r.permanent ? PERMANENT_FAIL : KINDS.indexOf(r.kind));
    const ref = refs[i];
    if (ref) {
      encoding.writeVarUint(enc, ref[0] + 1);
      encoding.writeVarUint(enc, ref[1]);
    } else {
      encoding.writeVarUint(enc, 0);
      encoding.writeVarString(enc, r.task);
    }
    encoding.writeVarUint(enc, r.round);
    encoding.writeVarInt(enc, Math.round(r.at) - base);
    if (r.kind === 'claim') encoding.writeFloat64(enc, r.score);
    else if (r.kind === 'done') {
      encoding.writeVarUint(enc, Math.max(0, Math.round(r.ms)));
      encoding.writeAny(enc, (r.result ?? null) as never);
    } else if (r.kind === 'fail') encoding.writeVarString(enc, r.error.slice(0, LIMITS.errorLength));
  });
  return encoding.toUint8Array(enc);
}

/** A value readAny returned that is plain JSON (finite numbers, no binary, no undefined, depth <= 64). */
export function isPlainJson(v: unknown, depth = 0): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth >= 64 || v instanceof Uint8Array) return false;
  if (Array.isArray(v)) return v.every((e) => isPlainJson(e, depth + 1));
  for (const k in v) if (!isPlainJson((v as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

export function decodeActivity(bytes: unknown): Parsed<ActivityBatch> {
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: 'activity batch is not binary' };
  try {
    const dec = decoding.createDecoder(bytes);
    const header = readHeader(dec);
    if (!header) return { ok: false, reason: 'unknown activity batch version' };
    const peer = decoding.readVarString(dec);
    if (!isId(peer)) return { ok: false, reason: 'activity batch author is not a peer id' };
    const base = decoding.readFloat64(dec);
    if (!Number.isFinite(base)) return { ok: false, reason: 'activity batch time is not finite' };
    const np = decoding.readVarUint(dec);
    if (np > BATCH_MAX) return { ok: false, reason: 'activity batch names too many task batches' };
    const prefixes: string[] = [];
    for (let i = 0; i < np; i++) prefixes.push(decoding.readVarString(dec));
    const n = decoding.readVarUint(dec);
    if (n === 0 || n > BATCH_MAX) return { ok: false, reason: `activity batch holds ${n} records (1..${BATCH_MAX})` };
    const records: ActivityRecord[] = [];
    for (let i = 0; i < n; i++) {
      const code = decoding.readUint8(dec);
      const kind = code === PERMANENT_FAIL ? 'fail' : KINDS[code];
      if (kind === undefined) return { ok: false, reason: 'unknown activity record kind' };
      const ref = decoding.readVarUint(dec);
      let task: string;
      if (ref === 0) task = decoding.readVarString(dec);
      else {
        const prefix = prefixes[ref - 1];
        if (prefix === undefined) return { ok: false, reason: 'activity task reference out of range' };
        task = batchTaskId(prefix, decoding.readVarUint(dec));
      }
      if (!isId(task)) return { ok: false, reason: 'activity record names no valid task id' };
      const round = decoding.readVarUint(dec);
      if (round < 1 || round > 1_000_000) return { ok: false, reason: 'activity record round out of range' };
      const at = base + decoding.readVarInt(dec);
      if (kind === 'claim') {
        const score = decoding.readFloat64(dec);
        if (!Number.isFinite(score)) return { ok: false, reason: 'claim score is not finite' };
        records.push({ kind, task, round, at, score });
      } else if (kind === 'done') {
        const ms = decoding.readVarUint(dec);
        const start = dec.pos;
        const result = decoding.readAny(dec);
        if (dec.pos - start > LIMITS.valueBytes || !isPlainJson(result)) return { ok: false, reason: 'result is not plain JSON within the size limit' };
        records.push({ kind, task, round, at, ms, result });
      } else if (kind === 'fail') {
        const error = decoding.readVarString(dec).slice(0, LIMITS.errorLength);
        records.push(code === PERMANENT_FAIL ? { kind, task, round, at, error, permanent: true } : { kind, task, round, at, error });
      } else records.push({ kind, task, round, at });
    }
    if (decoding.hasContent(dec)) return { ok: false, reason: 'trailing bytes after the activity batch' };
    return { ok: true, value: { peer, records, ...sigsOf(header) } };
  } catch (e) {
    return { ok: false, reason: `undecodable activity batch: ${(e as Error).message || String(e)}` };
  }
}
