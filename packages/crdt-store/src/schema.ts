// The document layout (docs/doc-schema.md) and the validators for every value in it.
// Remote peers and browser clients can write anything into a Yjs document; nothing they write is
// trusted. Every entry is parsed here into a typed value or rejected with a reason, and readers
// only ever see parsed values.

import type {
  Bid,
  Cancel,
  Claim,
  LeaseExpired,
  PeerInfo,
  RunDone,
  RunFailed,
  Retry,
  StrategyName,
  Vote,
  TaskSpec,
} from '@agentmesh/scheduler';

export const SCHEMA_VERSION = 1;

/** Names of the root maps of the document. */
export const ROOT = {
  meta: 'meta',
  tasks: 'tasks',
  facts: 'facts',
  peers: 'peers',
  beats: 'beats',
  data: 'data',
  /** Task batches: batch key -> binary (batch-codec.ts). */
  segs: 'segs',
  /** Activity batches: batch key -> binary (batch-codec.ts). */
  acts: 'acts',
  /** Member removals: removed peer id -> signed removal (member-index.ts, docs/security.md). */
  members: 'members',
} as const;

export const LIMITS = {
  idLength: 128,
  typeLength: 128,
  /** JSON size of a task payload, a result, or a data value. */
  valueBytes: 1 << 20,
  errorLength: 4096,
  listLength: 256,
  maxAttempts: 1000,
  timeoutMs: 7 * 24 * 3600 * 1000,
  keyLength: 512,
};

const ID_RE = /^[A-Za-z0-9._:-]+$/;
const STRATEGIES: readonly StrategyName[] = ['random', 'least-load', 'max-capacity', 'capacity-weighted', 'multi-objective'];

/** A parse result: the value, or why it was rejected. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

export function isId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= LIMITS.idLength && ID_RE.test(x);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isRound(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= 1_000_000;
}

function isStringList(x: unknown, each: (s: string) => boolean = () => true): x is string[] {
  return Array.isArray(x) && x.length <= LIMITS.listLength && x.every((s) => typeof s === 'string' && s.length <= LIMITS.typeLength && each(s));
}

/** Size of a JSON value in bytes, or -1 when it is not plain JSON (functions, cycles, binary, non-finite numbers). */
export function jsonSize(value: unknown): number {
  try {
    const seen = new Set<unknown>();
    const check = (v: unknown, depth: number): boolean => {
      if (depth > 64) return false;
      if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
      if (typeof v === 'number') return Number.isFinite(v);
      if (typeof v !== 'object') return false;
      if (v instanceof Uint8Array || seen.has(v)) return false;
      seen.add(v);
      const okAll = Array.isArray(v) ? v.every((e) => check(e, depth + 1)) : Object.values(v as object).every((e) => check(e, depth + 1));
      seen.delete(v);
      return okAll;
    };
    if (value === undefined) return 0;
    if (value === null) return 4;
    if (!check(value, 0)) return -1;
    return utf8Length(JSON.stringify(value));
  } catch {
    return -1;
  }
}

/** Bytes of a string in UTF-8, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function checkValue(value: unknown, what: string): string | null {
  const n = jsonSize(value);
  if (n < 0) return `${what} is not plain JSON`;
  if (n > LIMITS.valueBytes) return `${what} is ${n} bytes, over the ${LIMITS.valueBytes}-byte limit`;
  return null;
}

/**
 * Validates a task spec. `payloadChecked`: the caller already checked the payload is plain JSON
 * within the size limit (a task batch knows each payload's encoded size), so it is not measured again.
 */
/** Specs this module built (every field checked): writers need not check them again. */
const validated = new WeakSet<object>();

/** True for a spec returned by parseTaskSpec (not one built elsewhere to look like it). */
export function isValidatedSpec(spec: object): boolean {
  return validated.has(spec);
}

export function parseTaskSpec(x: unknown, expectedId?: string, payloadChecked = false): Parsed<TaskSpec> {
  if (!isRecord(x)) return bad('task is not an object');
  if (!isId(x.id)) return bad('task id is missing or not [A-Za-z0-9._:-]{1,128}');
  if (expectedId !== undefined && x.id !== expectedId) return bad(`task id ${String(x.id)} does not match its key ${expectedId}`);
  if (typeof x.type !== 'string' || x.type.length === 0 || x.type.length > LIMITS.typeLength) return bad('task type is missing or too long');
  const payloadProblem = payloadChecked ? null : checkValue(x.payload, 'payload');
  if (payloadProblem) return bad(payloadProblem);
  const priority = x.priority ?? 0;
  if (!isFiniteNumber(priority)) return bad('priority is not a finite number');
  const requires = x.requires ?? [];
  if (!isStringList(requires)) return bad('requires is not a list of strings');
  const prefers = x.prefers ?? [];
  if (!isStringList(prefers)) return bad('prefers is not a list of strings');
  const dependsOn = x.dependsOn ?? [];
  if (!isStringList(dependsOn, isId)) return bad('dependsOn is not a list of task ids');
  if (dependsOn.includes(x.id)) return bad('task depends on itself');
  const maxAttempts = x.maxAttempts ?? 3;
  if (!isNonNegInt(maxAttempts) || maxAttempts < 1 || maxAttempts > LIMITS.maxAttempts) return bad(`maxAttempts must be an integer in 1..${LIMITS.maxAttempts}`);
  const timeoutMs = x.timeoutMs ?? 0;
  if (!isNonNegInt(timeoutMs) || timeoutMs > LIMITS.timeoutMs) return bad('timeoutMs must be a non-negative integer');
  if (!isFiniteNumber(x.createdAt)) return bad('createdAt is not a number');
  if (!isId(x.createdBy)) return bad('createdBy is not a peer id');
  const notBefore = x.notBefore ?? 0;
  if (!isFiniteNumber(notBefore)) return bad('notBefore is not a number');
  const strategy = x.strategy ?? 'capacity-weighted';
  if (typeof strategy !== 'string' || !STRATEGIES.includes(strategy as StrategyName)) return bad(`unknown strategy ${String(strategy)}`);
  if (x.key !== undefined && (typeof x.key !== 'string' || x.key.length === 0 || x.key.length > LIMITS.keyLength)) return bad('key is not a non-empty string');
  if (x.exclusive !== undefined && typeof x.exclusive !== 'boolean') return bad('exclusive must be true or false');
  const spec: TaskSpec = {
    id: x.id,
    type: x.type,
    payload: x.payload ?? null,
    priority,
    requires,
    prefers,
    dependsOn,
    maxAttempts,
    timeoutMs,
    createdAt: x.createdAt,
    createdBy: x.createdBy,
    notBefore,
    strategy: strategy as StrategyName,
  };
  if (typeof x.key === 'string') spec.key = x.key;
  if (x.exclusive === true) spec.exclusive = true;
  validated.add(spec);
  return ok(spec);
}

export function parsePeerInfo(x: unknown, expectedId: string): Parsed<PeerInfo> {
  if (!isRecord(x)) return bad('peer entry is not an object');
  if (x.id !== expectedId || !isId(x.id)) return bad('peer id does not match its key');
  if (typeof x.name !== 'string' || x.name.length === 0 || x.name.length > LIMITS.typeLength) return bad('peer name is missing');
  if (!isStringList(x.capabilities)) return bad('capabilities is not a list of strings');
  if (!isFiniteNumber(x.capacity) || x.capacity <= 0) return bad('capacity must be a positive number');
  if (!isNonNegInt(x.concurrency) || x.concurrency < 1) return bad('concurrency must be a positive integer');
  if (!isFiniteNumber(x.startedAt)) return bad('startedAt is not a number');
  if (x.joinedAt !== undefined && !isFiniteNumber(x.joinedAt)) return bad('joinedAt is not a number');
  const info: PeerInfo = { id: x.id, name: x.name, capabilities: x.capabilities, capacity: x.capacity, concurrency: x.concurrency, startedAt: x.startedAt };
  if (x.joinedAt !== undefined) info.joinedAt = x.joinedAt;
  return ok(info);
}

/** A heartbeat: overwritten by its peer every few hundred ms. Liveness and load, nothing else. */
export interface Beat {
  at: number;
  seq: number;
  load: number;
  running: number;
  /** Tasks this peer finished since it started (for throughput charts). */
  done: number;
  /** Data items this peer wrote since it started. */
  dataWrites: number;
}

export function parseBeat(x: unknown): Parsed<Beat> {
  if (!isRecord(x)) return bad('beat is not an object');
  for (const k of ['at', 'seq', 'load', 'running', 'done', 'dataWrites'] as const) {
    if (!isFiniteNumber(x[k]) || (k !== 'at' && (x[k] as number) < 0)) return bad(`beat.${k} is not a valid number`);
  }
  return ok({ at: x.at as number, seq: x.seq as number, load: x.load as number, running: x.running as number, done: x.done as number, dataWrites: x.dataWrites as number });
}

// ---- facts -----------------------------------------------------------------------------------

/** Kinds of write-once facts about a task. */
export type FactKey =
  | { task: string; kind: 'bid' | 'claim' | 'done' | 'fail' | 'progress' | 'vote'; round: number; peer: string }
  | { task: string; kind: 'expire' | 'retry'; round: number }
  | { task: string; kind: 'cancel' };

export function factKey(k: FactKey): string {
  switch (k.kind) {
    case 'cancel':
      return `${k.task}/cancel`;
    case 'expire':
    case 'retry':
      return `${k.task}/${k.kind}/${k.round}`;
    default:
      return `${k.task}/${k.kind}/${k.round}/${k.peer}`;
  }
}

export function parseFactKey(key: string): FactKey | null {
  const parts = key.split('/');
  const [task, kind, roundText, peer] = parts;
  if (!task || !isId(task) || !kind) return null;
  if (kind === 'cancel') return parts.length === 2 ? { task, kind } : null;
  const round = Number(roundText);
  if (!roundText || !/^[0-9]+$/.test(roundText) || !isRound(round)) return null;
  if (kind === 'expire' || kind === 'retry') return parts.length === 3 ? { task, kind, round } : null;
  if (kind !== 'bid' && kind !== 'claim' && kind !== 'done' && kind !== 'fail' && kind !== 'progress' && kind !== 'vote') return null;
  if (parts.length !== 4 || !peer || !isId(peer)) return null;
  return { task, kind, round, peer };
}

export interface Progress {
  peer: string;
  round: number;
  pct: number;
  message: string;
  at: number;
}

export type FactValue =
  | { kind: 'bid'; value: Bid }
  | { kind: 'claim'; value: Claim }
  | { kind: 'done'; value: RunDone }
  | { kind: 'fail'; value: RunFailed }
  | { kind: 'expire'; value: LeaseExpired }
  | { kind: 'cancel'; value: Cancel }
  | { kind: 'retry'; value: Retry }
  | { kind: 'vote'; value: Vote }
  | { kind: 'progress'; value: Progress };

/** Validates a fact value against its key: the key's round and peer must match the value's. */
export function parseFact(key: FactKey, x: unknown): Parsed<FactValue> {
  if (!isRecord(x)) return bad('fact is not an object');
  if (key.kind !== 'cancel' && x.round !== key.round) return bad('fact round does not match its key');
  if ((key.kind === 'bid' || key.kind === 'claim' || key.kind === 'done' || key.kind === 'fail' || key.kind === 'progress') && x.peer !== key.peer) {
    return bad('fact peer does not match its key');
  }
  if (key.kind === 'vote' && x.voter !== key.peer) return bad('vote voter does not match its key');
  if (!isFiniteNumber(x.at)) return bad('fact.at is not a number');
  const at = x.at;
  switch (key.kind) {
    case 'bid': {
      if (!isFiniteNumber(x.score) || !isFiniteNumber(x.load) || x.load < 0 || !isFiniteNumber(x.capacity) || x.capacity <= 0) return bad('bid has bad score/load/capacity');
      return ok({ kind: 'bid', value: { peer: key.peer, round: key.round, score: x.score, load: x.load, capacity: x.capacity, at } });
    }
    case 'claim': {
      if (!isFiniteNumber(x.score)) return bad('claim has a bad score');
      if (x.quorum !== undefined && (!isNonNegInt(x.quorum) || x.quorum < 1)) return bad('claim.quorum must be a positive integer');
      const claim: Claim = { peer: key.peer, round: key.round, score: x.score, at };
      if (x.quorum !== undefined) claim.quorum = x.quorum as number;
      return ok({ kind: 'claim', value: claim });
    }
    case 'done': {
      const problem = checkValue(x.result, 'result');
      if (problem) return bad(problem);
      if (!isFiniteNumber(x.ms) || x.ms < 0) return bad('done.ms is not a valid duration');
      return ok({ kind: 'done', value: { peer: key.peer, round: key.round, result: x.result ?? null, at, ms: x.ms } });
    }
    case 'fail': {
      if (typeof x.error !== 'string') return bad('fail.error is not a string');
      const fail: RunFailed = { peer: key.peer, round: key.round, error: x.error.slice(0, LIMITS.errorLength), at };
      if (x.permanent === true) fail.permanent = true;
      return ok({ kind: 'fail', value: fail });
    }
    case 'expire': {
      if (!isId(x.by)) return bad('expire.by is not a peer id');
      return ok({ kind: 'expire', value: { round: key.round, by: x.by, at } });
    }
    case 'vote': {
      if (!isId(x.for)) return bad('vote.for is not a peer id');
      return ok({ kind: 'vote', value: { round: key.round, voter: key.peer, for: x.for, at } });
    }
    case 'retry': {
      if (!isId(x.by)) return bad('retry.by is not a peer id');
      return ok({ kind: 'retry', value: { round: key.round, by: x.by, at } });
    }
    case 'cancel': {
      if (!isId(x.by)) return bad('cancel.by is not a peer id');
      const reason = typeof x.reason === 'string' ? x.reason.slice(0, LIMITS.errorLength) : '';
      return ok({ kind: 'cancel', value: { by: x.by, at, reason } });
    }
    case 'progress': {
      if (!isFiniteNumber(x.pct) || x.pct < 0 || x.pct > 100) return bad('progress.pct must be 0..100');
      const message = typeof x.message === 'string' ? x.message.slice(0, LIMITS.errorLength) : '';
      return ok({ kind: 'progress', value: { peer: key.peer, round: key.round, pct: x.pct, message, at } });
    }
  }
}

// ---- shared data -----------------------------------------------------------------------------

export interface DataEntry {
  namespace: string;
  key: string;
  value: unknown;
  by: string;
  at: number;
  task: string | undefined;
}

const NS_RE = /^[A-Za-z0-9._-]{1,64}$/;

export function dataKey(namespace: string, key: string): string {
  return `${namespace}/${key}`;
}

export function validateDataName(namespace: string, key: string): string | null {
  if (!NS_RE.test(namespace)) return `data namespace ${JSON.stringify(namespace)} must match ${NS_RE.source}`;
  if (key.length === 0 || key.length > LIMITS.keyLength) return 'data key must be 1..512 characters';
  return null;
}

export function parseDataEntry(fullKey: string, x: unknown): Parsed<DataEntry> {
  const slash = fullKey.indexOf('/');
  if (slash <= 0) return bad('data key has no namespace');
  const namespace = fullKey.slice(0, slash);
  const key = fullKey.slice(slash + 1);
  const nameProblem = validateDataName(namespace, key);
  if (nameProblem) return bad(nameProblem);
  if (!isRecord(x)) return bad('data entry is not an object');
  if (!isId(x.by)) return bad('data entry has no writer');
  if (!isFiniteNumber(x.at)) return bad('data entry has no time');
  const problem = checkValue(x.value, 'data value');
  if (problem) return bad(problem);
  if (x.task !== undefined && !isId(x.task)) return bad('data entry task is not a task id');
  return ok({ namespace, key, value: x.value ?? null, by: x.by, at: x.at, task: typeof x.task === 'string' ? x.task : undefined });
}
