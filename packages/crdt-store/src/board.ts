// The typed task board over one Y.Doc: the only code that reads or writes the document's maps.
// It keeps a validated index of tasks, facts, peers, heartbeats and data, updated from Yjs events,
// so readers never parse raw Yjs values and never see an entry that breaks the schema. It also
// records when this replica first saw each fact (its own clock), which the lifecycle rules use
// instead of remote timestamps.

import * as Y from 'yjs';
import { MeshError } from '@agentmesh/scheduler';
import { GENESIS, compareGenerations, encodeGeneration, parseGeneration, type Generation } from './generation.js';
import type { Bid, Cancel, Claim, FactKind, LeaseExpired, PeerInfo, Retry, RunDone, RunFailed, TaskFacts, TaskSpec, Vote } from '@agentmesh/scheduler';
import {
  ROOT,
  SCHEMA_VERSION,
  dataKey,
  factKey,
  parseBeat,
  parseDataEntry,
  parseFact,
  parseFactKey,
  parsePeerInfo,
  parseTaskSpec,
  validateDataName,
  jsonSize,
  LIMITS,
  type Beat,
  type DataEntry,
  type FactKey,
  type FactValue,
  type Progress,
} from './schema.js';

/** Generations of lineage a document remembers. */
export const LINEAGE_MAX = 32;

/** Origin of the board's own writes; anything else that changes the doc is remote or storage. */
export const LOCAL_ORIGIN = Symbol('agentmesh-local');

export interface InvalidEntry {
  map: string;
  key: string;
  reason: string;
}

/** A task as the archive keeps it: the raw spec and every fact of it, by fact key. */
export interface TaskRecord {
  id: string;
  spec: unknown;
  facts: Record<string, unknown>;
}

export interface BoardChange {
  /** Tasks whose spec or facts changed. */
  tasks: Set<string>;
  /** Peers whose registry entry changed. */
  peers: Set<string>;
  /** Peers whose heartbeat changed. */
  beats: Set<string>;
  /** Data keys (namespace/key) that changed. */
  data: Set<string>;
  /** True when the change came from this board's own writes. */
  local: boolean;
  origin: unknown;
}

interface FactIndex {
  bids: Map<string, Bid>;
  claims: Map<string, Claim>;
  dones: Map<string, RunDone>;
  fails: Map<string, RunFailed>;
  expiries: Map<number, LeaseExpired>;
  retries: Map<number, Retry>;
  votes: Map<string, Vote>;
  progress: Map<string, Progress>;
  cancel: Cancel | undefined;
  /** Cached TaskFacts, cleared on change. */
  cached: TaskFacts | undefined;
}

export interface TaskBoardOptions {
  /** This replica's clock (ms); used only to stamp when facts were first seen. */
  now: () => number;
  /** Called for every entry that fails validation (remote junk, hostile writes). */
  onInvalid?: (entry: InvalidEntry) => void;
}

function newFactIndex(): FactIndex {
  return { bids: new Map(), claims: new Map(), dones: new Map(), fails: new Map(), expiries: new Map(), retries: new Map(), votes: new Map(), progress: new Map(), cancel: undefined, cached: undefined };
}

export class TaskBoard {
  readonly doc: Y.Doc;
  private readonly now: () => number;
  private readonly onInvalid: (entry: InvalidEntry) => void;
  private readonly tasksMap: Y.Map<unknown>;
  private readonly factsMap: Y.Map<unknown>;
  private readonly peersMap: Y.Map<unknown>;
  private readonly beatsMap: Y.Map<unknown>;
  private readonly dataMap: Y.Map<unknown>;

  private readonly specs = new Map<string, TaskSpec>();
  private readonly facts = new Map<string, FactIndex>();
  private readonly seen = new Map<string, number>();
  private readonly taskSeen = new Map<string, number>();
  private readonly peerInfos = new Map<string, PeerInfo>();
  private readonly beatsIndex = new Map<string, Beat>();
  private readonly beatSeen = new Map<string, number>();
  private readonly dataIndex = new Map<string, DataEntry>();
  private readonly keyIndex = new Map<string, string>();
  private invalidCount = 0;

  private pending: BoardChange | undefined;
  private readonly listeners = new Set<(c: BoardChange) => void>();

  constructor(doc: Y.Doc, opts: TaskBoardOptions) {
    this.doc = doc;
    this.now = opts.now;
    this.onInvalid = opts.onInvalid ?? (() => {});
    this.tasksMap = doc.getMap(ROOT.tasks);
    this.factsMap = doc.getMap(ROOT.facts);
    this.peersMap = doc.getMap(ROOT.peers);
    this.beatsMap = doc.getMap(ROOT.beats);
    this.dataMap = doc.getMap(ROOT.data);

    const change = () => (this.pending ??= { tasks: new Set(), peers: new Set(), beats: new Set(), data: new Set(), local: false, origin: undefined });
    this.tasksMap.observe((e) => e.keysChanged.forEach((k) => change().tasks.add(this.ingestTask(k))));
    this.factsMap.observe((e) => e.keysChanged.forEach((k) => { const t = this.ingestFact(k); if (t) change().tasks.add(t); }));
    this.peersMap.observe((e) => e.keysChanged.forEach((k) => { this.ingestPeer(k); change().peers.add(k); }));
    this.beatsMap.observe((e) => e.keysChanged.forEach((k) => { if (this.ingestBeat(k)) change().beats.add(k); }));
    this.dataMap.observe((e) => e.keysChanged.forEach((k) => { this.ingestData(k); change().data.add(k); }));
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      const c = this.pending;
      if (!c) return;
      this.pending = undefined;
      c.local = tr.origin === LOCAL_ORIGIN;
      c.origin = tr.origin;
      for (const l of this.listeners) l(c);
    });
    this.reindex();
  }

  /** Rebuilds the whole index from the document (after loading from storage). */
  reindex(): void {
    this.specs.clear();
    this.facts.clear();
    this.peerInfos.clear();
    this.beatsIndex.clear();
    this.dataIndex.clear();
    this.keyIndex.clear();
    for (const k of this.tasksMap.keys()) this.ingestTask(k);
    for (const k of this.factsMap.keys()) this.ingestFact(k);
    for (const k of this.peersMap.keys()) this.ingestPeer(k);
    for (const k of this.beatsMap.keys()) this.ingestBeat(k);
    for (const k of this.dataMap.keys()) this.ingestData(k);
  }

  onChange(listener: (c: BoardChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get invalidEntries(): number {
    return this.invalidCount;
  }

  private reject(map: string, key: string, reason: string): void {
    this.invalidCount++;
    this.onInvalid({ map, key: key.slice(0, 200), reason });
  }

  // ---- ingest (remote or local changes into the validated index) ---------------------------------

  private ingestTask(id: string): string {
    const raw = this.tasksMap.get(id);
    if (raw === undefined) {
      const old = this.specs.get(id);
      if (old?.key !== undefined && this.keyIndex.get(old.key) === id) this.keyIndex.delete(old.key);
      this.specs.delete(id);
      this.facts.delete(id);
      return id;
    }
    const parsed = parseTaskSpec(raw, id);
    if (!parsed.ok) {
      this.specs.delete(id);
      this.reject(ROOT.tasks, id, parsed.reason);
      return id;
    }
    this.specs.set(id, parsed.value);
    if (parsed.value.key !== undefined) this.keyIndex.set(parsed.value.key, id);
    if (!this.taskSeen.has(id)) this.taskSeen.set(id, this.now());
    const f = this.facts.get(id);
    if (f) f.cached = undefined;
    return id;
  }

  private ingestFact(key: string): string | undefined {
    const fk = parseFactKey(key);
    if (!fk) {
      this.reject(ROOT.facts, key, 'fact key does not follow <task>/<kind>/<round>/<peer>');
      return undefined;
    }
    let idx = this.facts.get(fk.task);
    const raw = this.factsMap.get(key);
    if (raw === undefined) {
      if (idx) removeFact(idx, fk);
      return fk.task;
    }
    const parsed = parseFact(fk, raw);
    if (!parsed.ok) {
      this.reject(ROOT.facts, key, parsed.reason);
      return undefined;
    }
    if (!idx) this.facts.set(fk.task, (idx = newFactIndex()));
    idx.cached = undefined;
    if (!this.seen.has(key)) this.seen.set(key, this.now());
    addFact(idx, fk, parsed.value);
    return fk.task;
  }

  private ingestPeer(id: string): void {
    const raw = this.peersMap.get(id);
    if (raw === undefined) {
      this.peerInfos.delete(id);
      return;
    }
    const parsed = parsePeerInfo(raw, id);
    if (!parsed.ok) {
      this.peerInfos.delete(id);
      this.reject(ROOT.peers, id, parsed.reason);
      return;
    }
    this.peerInfos.set(id, parsed.value);
  }

  private ingestBeat(id: string): boolean {
    const raw = this.beatsMap.get(id);
    if (raw === undefined) {
      this.beatsIndex.delete(id);
      return true;
    }
    const parsed = parseBeat(raw);
    if (!parsed.ok) {
      this.reject(ROOT.beats, id, parsed.reason);
      return false;
    }
    const prev = this.beatsIndex.get(id);
    this.beatsIndex.set(id, parsed.value);
    if (!prev || prev.seq !== parsed.value.seq || prev.at !== parsed.value.at) this.beatSeen.set(id, this.now());
    return true;
  }

  private ingestData(k: string): void {
    const raw = this.dataMap.get(k);
    if (raw === undefined) {
      this.dataIndex.delete(k);
      return;
    }
    const parsed = parseDataEntry(k, raw);
    if (!parsed.ok) {
      this.dataIndex.delete(k);
      this.reject(ROOT.data, k, parsed.reason);
      return;
    }
    this.dataIndex.set(k, parsed.value);
  }

  // ---- writes --------------------------------------------------------------------------------------

  /** Runs several writes as one Yjs transaction (one update on the wire and on disk). */
  transact<T>(fn: () => T): T {
    let out!: T;
    this.doc.transact(() => {
      out = fn();
    }, LOCAL_ORIGIN);
    return out;
  }

  /** Ensures the schema version marker exists. */
  initMeta(): void {
    const meta = this.doc.getMap(ROOT.meta);
    if (meta.get('schema') !== SCHEMA_VERSION) this.transact(() => meta.set('schema', SCHEMA_VERSION));
  }

  /** The generation this document belongs to (the greatest marker in meta; GENESIS if none). */
  generation(): Generation {
    let best = GENESIS;
    for (const k of this.doc.getMap(ROOT.meta).keys()) {
      if (!k.startsWith('gen:')) continue;
      const g = parseGeneration(k.slice(4));
      if (g && compareGenerations(g, best) > 0) best = g;
    }
    return best;
  }

  /** Marks this document as generation `g`. */
  markGeneration(g: Generation): void {
    const meta = this.doc.getMap(ROOT.meta);
    const key = 'gen:' + encodeGeneration(g);
    if (!meta.has(key)) this.transact(() => meta.set(key, true));
  }

  /**
   * Names of the generations this one descends from, oldest first (at most 32), as written by the
   * peer that started it: peers moving in compare it with their own to tell whether they were on
   * a branch of their own (a partition that changed generations on both sides).
   */
  lineage(): string[] {
    const raw = this.doc.getMap(ROOT.meta).get('lineage');
    if (!Array.isArray(raw)) return [];
    return raw.filter((x): x is string => parseGeneration(x) !== null).slice(-LINEAGE_MAX);
  }

  setLineage(names: string[]): void {
    const list = names.filter((x) => parseGeneration(x) !== null).slice(-LINEAGE_MAX);
    this.transact(() => this.doc.getMap(ROOT.meta).set('lineage', list));
  }

  /** Adds a task. Throws MeshError('INVALID_TASK') and writes nothing if the spec is invalid. */
  putTask(spec: TaskSpec): TaskSpec {
    const parsed = parseTaskSpec(spec, spec.id);
    if (!parsed.ok) throw new MeshError('INVALID_TASK', `invalid task: ${parsed.reason}`, { id: spec.id });
    if (this.tasksMap.has(spec.id)) return this.specs.get(spec.id) ?? parsed.value;
    this.transact(() => this.tasksMap.set(spec.id, toPlain(parsed.value)));
    return parsed.value;
  }

  private putFact(k: FactKey, value: Record<string, unknown>, overwrite = false): boolean {
    const key = factKey(k);
    if (!overwrite && this.factsMap.has(key)) return false;
    const parsed = parseFact(k, value);
    if (!parsed.ok) throw new MeshError('INVALID_ARGUMENT', `invalid ${k.kind}: ${parsed.reason}`, { key });
    this.transact(() => this.factsMap.set(key, value));
    return true;
  }

  putBid(task: string, bid: Bid): boolean {
    return this.putFact({ task, kind: 'bid', round: bid.round, peer: bid.peer }, { ...bid });
  }

  putClaim(task: string, claim: Claim): boolean {
    return this.putFact({ task, kind: 'claim', round: claim.round, peer: claim.peer }, { ...claim });
  }

  putDone(task: string, done: RunDone): boolean {
    return this.putFact({ task, kind: 'done', round: done.round, peer: done.peer }, { ...done, result: done.result ?? null });
  }

  putFail(task: string, fail: RunFailed): boolean {
    return this.putFact({ task, kind: 'fail', round: fail.round, peer: fail.peer }, { ...fail });
  }

  putExpiry(task: string, exp: LeaseExpired): boolean {
    return this.putFact({ task, kind: 'expire', round: exp.round }, { ...exp });
  }

  putVote(task: string, vote: Vote): boolean {
    return this.putFact({ task, kind: 'vote', round: vote.round, peer: vote.voter }, { ...vote });
  }

  putRetry(task: string, retry: Retry): boolean {
    return this.putFact({ task, kind: 'retry', round: retry.round }, { ...retry });
  }

  putCancel(task: string, cancel: Cancel): boolean {
    return this.putFact({ task, kind: 'cancel' }, { ...cancel });
  }

  /** Progress is the one fact its writer may overwrite (it is throttled by the writer). */
  putProgress(task: string, p: Progress): void {
    this.putFact({ task, kind: 'progress', round: p.round, peer: p.peer }, { ...p }, true);
  }

  /** Writes (or replaces) this peer's registry entry, only when it changed. */
  registerPeer(info: PeerInfo): void {
    const parsed = parsePeerInfo(info, info.id);
    if (!parsed.ok) throw new MeshError('INVALID_ARGUMENT', `invalid peer info: ${parsed.reason}`);
    const cur = this.peerInfos.get(info.id);
    if (cur && JSON.stringify(cur) === JSON.stringify(parsed.value)) return;
    this.transact(() => this.peersMap.set(info.id, toPlain(parsed.value)));
  }

  heartbeat(peer: string, beat: Beat): void {
    this.transact(() => this.beatsMap.set(peer, { ...beat }));
  }

  writeData(namespace: string, key: string, value: unknown, by: string, at: number, task?: string): DataEntry {
    const problem = validateDataName(namespace, key);
    if (problem) throw new MeshError('INVALID_ARGUMENT', problem);
    const size = jsonSize(value);
    if (size < 0) throw new MeshError('INVALID_ARGUMENT', 'data value is not plain JSON');
    if (size > LIMITS.valueBytes) throw new MeshError('INVALID_ARGUMENT', `data value is ${size} bytes, over the ${LIMITS.valueBytes}-byte limit`);
    const entry: Record<string, unknown> = { value: value ?? null, by, at };
    if (task !== undefined) entry.task = task;
    this.transact(() => this.dataMap.set(dataKey(namespace, key), entry));
    return { namespace, key, value: value ?? null, by, at, task };
  }

  // ---- generations -------------------------------------------------------------------------------

  /**
   * Copies this board's valid entries into `target` (a board over a fresh document of the next
   * generation), except the tasks in `drop` and their facts; entries `target` already holds are
   * left alone. The times this replica first saw each entry move along, so leases and bid windows
   * are not restarted by the move. Returns the raw spec and facts of each dropped task, for the
   * archive. One transaction on `target`.
   */
  copyInto(target: TaskBoard, drop: ReadonlySet<string>): TaskRecord[] {
    const dropped = new Map<string, TaskRecord>();
    for (const id of drop) {
      const raw = this.tasksMap.get(id);
      if (raw !== undefined && this.specs.has(id)) dropped.set(id, { id, spec: raw, facts: {} });
    }
    this.carryObservations(target, drop);
    target.transact(() => {
      for (const [id, raw] of this.tasksMap.entries()) {
        if (drop.has(id) || !this.specs.has(id) || target.tasksMap.has(id)) continue;
        target.tasksMap.set(id, raw);
      }
      for (const [key, raw] of this.factsMap.entries()) {
        const fk = parseFactKey(key);
        if (!fk || !parseFact(fk, raw).ok) continue;
        const rec = dropped.get(fk.task);
        if (rec) {
          rec.facts[key] = raw;
          continue;
        }
        if (drop.has(fk.task) || target.factsMap.has(key)) continue;
        target.factsMap.set(key, raw);
      }
      for (const [id, raw] of this.peersMap.entries()) if (this.peerInfos.has(id) && !target.peersMap.has(id)) target.peersMap.set(id, raw);
      for (const [id, raw] of this.beatsMap.entries()) if (this.beatsIndex.has(id) && !target.beatsMap.has(id)) target.beatsMap.set(id, raw);
      for (const [k, raw] of this.dataMap.entries()) if (this.dataIndex.has(k) && !target.dataMap.has(k)) target.dataMap.set(k, raw);
    });
    for (const [id, t] of this.beatSeen) {
      const mine = this.beatsIndex.get(id);
      const theirs = target.beatsIndex.get(id);
      // The same heartbeat as ours: we saw it at `t`, not now. A newer one (from a base) keeps its new time.
      if (mine && theirs && mine.seq === theirs.seq && mine.at === theirs.at) target.beatSeen.set(id, t);
    }
    return [...dropped.values()];
  }

  /**
   * Gives `target` this replica's first-sighting times of every entry outside `drop` (call it
   * before `target` ingests a base from another peer, so those entries keep their old times).
   */
  carryObservations(target: TaskBoard, drop: ReadonlySet<string>): void {
    for (const [k, t] of this.seen) if (!drop.has(k.slice(0, k.indexOf('/'))) && !target.seen.has(k)) target.seen.set(k, t);
    for (const [k, t] of this.taskSeen) if (!drop.has(k) && !target.taskSeen.has(k)) target.taskSeen.set(k, t);
    for (const [id, t] of this.beatSeen) if (!target.beatSeen.has(id)) target.beatSeen.set(id, t);
  }

  /**
   * Writes back what an archived record holds and this document lacks (its spec, its facts), so
   * a task that came back into the live document without its outcome (from a replica that had
   * missed it) ends as it ended before. Invalid parts are skipped. Returns the entries written.
   */
  restore(rec: TaskRecord): number {
    let n = 0;
    this.transact(() => {
      if (!this.tasksMap.has(rec.id) && parseTaskSpec(rec.spec, rec.id).ok) {
        this.tasksMap.set(rec.id, rec.spec);
        n++;
      }
      for (const [key, raw] of Object.entries(rec.facts)) {
        const fk = parseFactKey(key);
        if (!fk || fk.task !== rec.id || this.factsMap.has(key) || !parseFact(fk, raw).ok) continue;
        this.factsMap.set(key, raw);
        n++;
      }
    });
    return n;
  }

  // ---- reads ---------------------------------------------------------------------------------------

  taskIds(): IterableIterator<string> {
    return this.specs.keys();
  }

  get taskCount(): number {
    return this.specs.size;
  }

  getSpec(id: string): TaskSpec | undefined {
    return this.specs.get(id);
  }

  /** The task id that holds an idempotency key, if any. */
  taskByKey(key: string): string | undefined {
    return this.keyIndex.get(key);
  }

  /**
   * Yjs ids (client, clock) of the entries that make up a task: its spec and every fact. A peer
   * whose state vector covers them all holds everything this replica knows of the task.
   */
  taskItemIds(id: string): { client: number; clock: number }[] {
    const out: { client: number; clock: number }[] = [];
    const push = (m: Y.Map<unknown>, key: string) => {
      const item = (m as unknown as { _map: Map<string, { id: { client: number; clock: number } }> })._map.get(key);
      if (item) out.push(item.id);
    };
    push(this.tasksMap, id);
    const idx = this.facts.get(id);
    if (!idx) return out;
    const each = (kind: 'bid' | 'claim' | 'done' | 'fail' | 'progress' | 'vote', m: Map<string, unknown>) => {
      for (const sub of m.keys()) push(this.factsMap, `${id}/${kind}/${sub}`);
    };
    each('bid', idx.bids);
    each('claim', idx.claims);
    each('done', idx.dones);
    each('fail', idx.fails);
    each('progress', idx.progress);
    each('vote', idx.votes);
    for (const round of idx.expiries.keys()) push(this.factsMap, factKey({ task: id, kind: 'expire', round }));
    for (const round of idx.retries.keys()) push(this.factsMap, factKey({ task: id, kind: 'retry', round }));
    if (idx.cancel) push(this.factsMap, factKey({ task: id, kind: 'cancel' }));
    return out;
  }

  /** All validated facts of a task, or undefined if the task itself is unknown here. */
  getFacts(id: string): TaskFacts | undefined {
    const spec = this.specs.get(id);
    if (!spec) return undefined;
    let idx = this.facts.get(id);
    if (!idx) this.facts.set(id, (idx = newFactIndex()));
    idx.cached ??= taskFactsOf(spec, idx);
    return idx.cached;
  }

  progress(id: string): Progress[] {
    return [...(this.facts.get(id)?.progress.values() ?? [])];
  }

  /** When this replica first saw a fact (its clock); the task's own first sighting if unknown. */
  seenAt(task: string, kind: FactKind, round: number, peer: string): number {
    const key = kind === 'expire' ? factKey({ task, kind, round }) : factKey({ task, kind, round, peer });
    return this.seen.get(key) ?? this.taskSeenAt(task);
  }

  taskSeenAt(task: string): number {
    let t = this.taskSeen.get(task);
    if (t === undefined) this.taskSeen.set(task, (t = this.now()));
    return t;
  }

  peers(): PeerInfo[] {
    return [...this.peerInfos.values()];
  }

  peer(id: string): PeerInfo | undefined {
    return this.peerInfos.get(id);
  }

  beat(id: string): Beat | undefined {
    return this.beatsIndex.get(id);
  }

  /** When this replica last saw `id`'s heartbeat change (its own clock). */
  beatSeenAt(id: string): number | undefined {
    return this.beatSeen.get(id);
  }

  data(namespace?: string): DataEntry[] {
    const all = [...this.dataIndex.values()];
    return namespace === undefined ? all : all.filter((e) => e.namespace === namespace);
  }

  getData(namespace: string, key: string): DataEntry | undefined {
    return this.dataIndex.get(dataKey(namespace, key));
  }

  get dataCount(): number {
    return this.dataIndex.size;
  }
}

function addFact(idx: FactIndex, fk: FactKey, v: FactValue): void {
  const sub = 'peer' in fk ? `${fk.round}/${fk.peer}` : '';
  switch (v.kind) {
    case 'bid': idx.bids.set(sub, v.value); break;
    case 'claim': idx.claims.set(sub, v.value); break;
    case 'done': idx.dones.set(sub, v.value); break;
    case 'fail': idx.fails.set(sub, v.value); break;
    case 'progress': idx.progress.set(sub, v.value); break;
    case 'expire': idx.expiries.set(v.value.round, v.value); break;
    case 'retry': idx.retries.set(v.value.round, v.value); break;
    case 'vote': idx.votes.set(sub, v.value); break;
    case 'cancel': idx.cancel = v.value; break;
  }
}

/** The validated facts of an archived task record (invalid parts skipped); undefined if its spec is invalid. */
export function factsFromRecord(rec: TaskRecord): TaskFacts | undefined {
  const spec = parseTaskSpec(rec.spec, rec.id);
  if (!spec.ok) return undefined;
  const idx = newFactIndex();
  for (const [key, raw] of Object.entries(rec.facts ?? {})) {
    const fk = parseFactKey(key);
    if (!fk || fk.task !== rec.id) continue;
    const parsed = parseFact(fk, raw);
    if (parsed.ok) addFact(idx, fk, parsed.value);
  }
  return taskFactsOf(spec.value, idx);
}

/** The TaskFacts view of a fact index (what the lifecycle rules read). */
function taskFactsOf(spec: TaskSpec, idx: FactIndex): TaskFacts {
  return {
    spec,
    bids: [...idx.bids.values()],
    claims: [...idx.claims.values()],
    dones: [...idx.dones.values()],
    fails: [...idx.fails.values()],
    expiries: [...idx.expiries.values()],
    cancel: idx.cancel,
    retries: [...idx.retries.values()],
    votes: [...idx.votes.values()],
  };
}

function removeFact(idx: FactIndex, fk: FactKey): void {
  idx.cached = undefined;
  if (fk.kind === 'cancel') idx.cancel = undefined;
  else if (fk.kind === 'expire') idx.expiries.delete(fk.round);
  else if (fk.kind === 'retry') idx.retries.delete(fk.round);
  else if ('peer' in fk) {
    const sub = `${fk.round}/${fk.peer}`;
    ({ bid: idx.bids, claim: idx.claims, done: idx.dones, fail: idx.fails, progress: idx.progress, vote: idx.votes })[fk.kind].delete(sub);
  }
}

/** Drops undefined fields so Yjs stores plain JSON. */
function toPlain<T extends object>(v: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = x;
  return out;
}
