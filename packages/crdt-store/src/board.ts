// The typed task board over one Y.Doc: the only code that reads or writes the document's maps.
// It keeps a validated index of tasks, facts, peers, heartbeats and data, updated from Yjs events,
// so readers never parse raw Yjs values and never see an entry that breaks the schema. It also
// records when this replica first saw each fact (its own clock), which the lifecycle rules use
// instead of remote timestamps.
//
// This file is the facade: it wires the Yjs observers and the change events, counts invalid
// entries, and delegates to the parts that own each kind of state: task-index.ts (tasks, facts,
// first sightings), peer-index.ts (registry, heartbeats), data-index.ts (shared data),
// generation-meta.ts (schema marker, generation, lineage) and board-copy.ts (copyInto, restore).

import * as Y from 'yjs';
import type { Bid, Cancel, Claim, FactKind, LeaseExpired, PeerInfo, Retry, RunDone, RunFailed, TaskFacts, TaskSpec, Vote } from '@agentmesh/scheduler';
import type { Generation } from './generation.js';
import type { Beat, DataEntry, Progress } from './schema.js';
import type { ActivityBatch, TaskBatch } from './batch-codec.js';
import { LOCAL_ORIGIN, type BoardChange, type BoardContext, type InvalidEntry, type TaskBoardOptions, type TaskRecord } from './board-types.js';
import { TaskIndex } from './task-index.js';
import { PeerIndex } from './peer-index.js';
import { DataIndex } from './data-index.js';
import { MemberIndex, type MemberRemoval } from './member-index.js';
import * as meta from './generation-meta.js';
import * as copy from './board-copy.js';
import { applyRemovals, type Removal } from './removals.js';
import { BatchSigs } from './trust/batch-sigs.js';

export { LOCAL_ORIGIN, type BoardChange, type InvalidEntry, type TaskBoardOptions, type TaskRecord } from './board-types.js';
export { LINEAGE_MAX } from './generation-meta.js';
export { factsFromRecord } from './fact-index.js';

export class TaskBoard {
  readonly doc: Y.Doc;
  private readonly now: () => number;
  private readonly onInvalid: (entry: InvalidEntry) => void;
  private readonly ctx: BoardContext;
  private readonly tasks: TaskIndex;
  private readonly peerIndex: PeerIndex;
  private readonly dataIndex: DataIndex;
  private readonly memberIndex: MemberIndex;
  private invalidCount = 0;
  private localDepth = 0;

  private pending: BoardChange | undefined;
  /** Deleted entries of the current transaction (see applyRemovals). */
  private removals: Removal[] = [];
  private readonly listeners = new Set<(c: BoardChange) => void>();

  constructor(doc: Y.Doc, opts: TaskBoardOptions) {
    this.doc = doc;
    this.now = opts.now;
    this.onInvalid = opts.onInvalid ?? (() => {});
    const change = () => (this.pending ??= { tasks: new Set(), peers: new Set(), beats: new Set(), data: new Set(), removed: [], dropped: [], deleted: 0, local: false, origin: undefined });
    this.ctx = {
      now: () => this.now(),
      reject: (map, key, reason) => this.reject(map, key, reason),
      transact: (fn) => this.transact(fn),
      trust: opts.trust,
      isLocal: () => this.localDepth > 0,
      changed: (tasks) => {
        const c = change();
        for (const id of tasks) c.tasks.add(id);
      },
    };
    // The maps are created in this order: tasks, facts (TaskIndex), peers, beats (PeerIndex), data.
    const tasks = (this.tasks = new TaskIndex(doc, this.ctx));
    const peers = (this.peerIndex = new PeerIndex(doc, this.ctx));
    const data = (this.dataIndex = new DataIndex(doc, this.ctx));
    // Schema 2's batch maps come last, so a document of schema 1 keeps its map order; then members.
    tasks.openBatches(doc);
    const members = (this.memberIndex = new MemberIndex(doc, this.ctx));

    // Deleted task entries are taken out of the index at the end of the transaction, all together,
    // so the record of a task that left (for the archive) still holds every fact deleted with it.
    const removal = (kind: Removal[0], key: string) => {
      change();
      this.removals.push([kind, key]);
    };
    tasks.tasksMap.observe((e) => e.keysChanged.forEach((k) => (tasks.tasksMap.has(k) ? change().tasks.add(tasks.ingestTask(k)) : removal('task', k))));
    tasks.factsMap.observe((e) => e.keysChanged.forEach((k) => { if (!tasks.factsMap.has(k)) return removal('fact', k); const t = tasks.ingestFact(k); if (t) change().tasks.add(t); }));
    peers.peersMap.observe((e) => e.keysChanged.forEach((k) => { peers.ingestPeer(k); change().peers.add(k); }));
    peers.beatsMap.observe((e) => e.keysChanged.forEach((k) => { if (peers.ingestBeat(k)) change().beats.add(k); }));
    data.dataMap.observe((e) => e.keysChanged.forEach((k) => { data.ingestData(k); change().data.add(k); }));
    tasks.segsMap.observe((e) => e.keysChanged.forEach((k) => { if (!tasks.segsMap.has(k)) return removal('seg', k); for (const id of tasks.ingestSegment(k)) change().tasks.add(id); }));
    tasks.actsMap.observe((e) => e.keysChanged.forEach((k) => { if (!tasks.actsMap.has(k)) return removal('act', k); for (const id of tasks.ingestActivity(k)) change().tasks.add(id); }));
    members.membersMap.observe((e) => {
      let changed = false;
      e.keysChanged.forEach((k) => (changed = members.ingest(k) || changed));
      if (changed && this.applyRemovalsToTrust()) this.dropRemovedAuthors(change());
    });
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      const c = this.pending;
      if (!c) return;
      this.pending = undefined;
      if (this.removals.length > 0) this.applyRemovals(c);
      c.local = tr.origin === LOCAL_ORIGIN;
      c.origin = tr.origin;
      for (const l of this.listeners) l(c);
    });
    this.reindex();
  }

  /** Rebuilds the whole index from the document (after loading from storage). */
  reindex(): void {
    const { tasks, peerIndex: peers, dataIndex: data, memberIndex: members } = this;
    members.clearIndex();
    for (const k of members.membersMap.keys()) members.ingest(k);
    this.applyRemovalsToTrust();
    tasks.clearIndex();
    peers.clearIndex();
    data.clearIndex();
    for (const k of tasks.tasksMap.keys()) tasks.ingestTask(k);
    for (const k of tasks.factsMap.keys()) tasks.ingestFact(k);
    for (const k of peers.peersMap.keys()) peers.ingestPeer(k);
    for (const k of peers.beatsMap.keys()) peers.ingestBeat(k);
    for (const k of data.dataMap.keys()) data.ingestData(k);
    for (const k of tasks.segsMap.keys()) tasks.ingestSegment(k);
    for (const k of tasks.actsMap.keys()) tasks.ingestActivity(k);
  }

  /** Takes the entries deleted in a transaction out of the index (see removals.ts). */
  private applyRemovals(c: BoardChange): void {
    const removals = this.removals;
    this.removals = [];
    applyRemovals(this.tasks, removals, c);
  }

  /** Re-reads (and checks, even inside our own write) everything: removed authors' late entries go. */
  private dropRemovedAuthors(c: BoardChange): void {
    const depth = this.localDepth;
    this.localDepth = 0;
    for (const id of this.tasks.specs.keys()) c.tasks.add(id); // those the reindex drops left the board
    try { this.reindex(); } finally { this.localDepth = depth; } // prettier-ignore
    for (const id of this.tasks.specs.keys()) c.tasks.add(id);
    for (const id of this.peerIndex.peerInfos.keys()) c.peers.add(id);
  }

  /** Hands the removals of this document to the trust; true when they changed what counts. */
  private applyRemovalsToTrust(): boolean {
    return this.ctx.trust?.setRemovals(this.memberIndex.keepLists()) ?? false;
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

  // ---- writes --------------------------------------------------------------------------------------

  /** Runs several writes as one Yjs transaction (one update on the wire and on disk). */
  transact<T>(fn: () => T): T {
    let out!: T;
    this.localDepth++;
    try {
      this.doc.transact(() => {
        out = fn();
      }, LOCAL_ORIGIN);
    } finally {
      this.localDepth--;
    }
    return out;
  }

  /** One transaction whose facts are signed together (signFactsTogether); they land when `fn` returns. */
  transactSigned<T>(fn: () => T): T {
    return this.transact(() => this.tasks.signTogether(fn));
  }

  /** Ensures the schema version marker exists. */
  initMeta(): void {
    meta.initMeta(this.doc, this.ctx.transact);
  }

  /** The generation this document belongs to (the greatest marker in meta; GENESIS if none). */
  generation(): Generation {
    return meta.generationOf(this.doc);
  }

  /** Marks this document as generation `g`. */
  markGeneration(g: Generation): void {
    meta.markGeneration(this.doc, this.ctx.transact, g);
  }

  /** Generations this one descends from, oldest first (at most 32), as its starter wrote them. */
  lineage(): string[] {
    return meta.lineageOf(this.doc);
  }

  setLineage(names: string[]): void {
    meta.setLineage(this.doc, this.ctx.transact, names);
  }

  /** Adds a task. Throws MeshError('INVALID_TASK') and writes nothing if the spec is invalid. */
  putTask(spec: TaskSpec): TaskSpec {
    return this.tasks.putTask(spec);
  }

  /**
   * Adds a task batch under `key` (unique to its writer): many specs and who runs round 1 of each,
   * as one binary entry. Every spec is validated first; throws MeshError('INVALID_TASK') and writes
   * nothing if one is invalid. Returns false when the key exists.
   */
  putTaskBatch(key: string, batch: TaskBatch): boolean {
    return this.tasks.putTaskBatch(key, batch);
  }

  /** Adds an activity batch under `key` (unique to its writer): its claims, results, failures, releases. */
  putActivity(key: string, batch: ActivityBatch): boolean {
    return this.tasks.putActivity(key, batch);
  }

  /** A bid; `renew` replaces the writer's own earlier bid of the round (one from before its restart). */
  putBid(task: string, bid: Bid, renew = false): boolean {
    return this.tasks.putFact({ task, kind: 'bid', round: bid.round, peer: bid.peer }, { ...bid }, renew);
  }

  putClaim(task: string, claim: Claim): boolean {
    return this.tasks.putFact({ task, kind: 'claim', round: claim.round, peer: claim.peer }, { ...claim });
  }

  putDone(task: string, done: RunDone): boolean {
    return this.tasks.putFact({ task, kind: 'done', round: done.round, peer: done.peer }, { ...done, result: done.result ?? null });
  }

  putFail(task: string, fail: RunFailed): boolean {
    return this.tasks.putFact({ task, kind: 'fail', round: fail.round, peer: fail.peer }, { ...fail });
  }

  putExpiry(task: string, exp: LeaseExpired): boolean {
    return this.tasks.putFact({ task, kind: 'expire', round: exp.round }, { ...exp });
  }

  /**
   * The holder of a round gives it back after another peer expired it (it is not running it):
   * written over that expiry, so peers that still see the holder alive stop waiting for it.
   */
  putRelease(task: string, exp: LeaseExpired): boolean {
    return this.tasks.putFact({ task, kind: 'expire', round: exp.round }, { round: exp.round, by: exp.by, at: exp.at }, true);
  }

  putVote(task: string, vote: Vote): boolean {
    return this.tasks.putFact({ task, kind: 'vote', round: vote.round, peer: vote.voter }, { ...vote });
  }

  putRetry(task: string, retry: Retry): boolean {
    return this.tasks.putFact({ task, kind: 'retry', round: retry.round }, { ...retry });
  }

  putCancel(task: string, cancel: Cancel): boolean {
    return this.tasks.putFact({ task, kind: 'cancel' }, { ...cancel });
  }

  /** Progress is the one fact its writer may overwrite (it is throttled by the writer). */
  putProgress(task: string, p: Progress): void {
    this.tasks.putFact({ task, kind: 'progress', round: p.round, peer: p.peer }, { ...p }, true);
  }

  /** Writes (or replaces) this peer's registry entry, only when it changed. */
  registerPeer(info: PeerInfo): void {
    this.peerIndex.registerPeer(info);
  }

  heartbeat(peer: string, beat: Beat): void {
    this.peerIndex.heartbeat(peer, beat);
  }

  writeData(namespace: string, key: string, value: unknown, by: string, at: number, task?: string): DataEntry {
    return this.dataIndex.writeData(namespace, key, value, by, at, task);
  }

  /** Removes member `peer` (docs/security.md): a removal by `by` keeping what this replica holds of it. */
  removeMember(peer: string, by: string, at: number): MemberRemoval {
    return this.memberIndex.remove(peer, by, at, this.ctx.trust?.acceptedTags(peer) ?? []);
  }

  /** Members removed in this document. */
  removedMembers(): MemberRemoval[] {
    return [...this.memberIndex.removals.values()].map(({ peer, by, at, keep }) => ({ peer, by, at, keep }));
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
    return copy.copyInto(this.parts(), target.parts(), drop);
  }

  /**
   * Gives `target` this replica's first-sighting times of every entry outside `drop` (call it
   * before `target` ingests a base from another peer, so those entries keep their old times).
   */
  carryObservations(target: TaskBoard, drop: ReadonlySet<string>): void {
    copy.carryObservations(this.parts(), target.parts(), drop);
  }

  /**
   * Writes back what an archived record holds and this document lacks (its spec, its facts), so
   * a task that came back into the live document without its outcome (from a replica that had
   * missed it) ends as it ended before. Invalid parts are skipped. Returns the entries written.
   */
  restore(rec: TaskRecord): number {
    return copy.restore(this.parts(), rec);
  }

  /**
   * Records whose batch entries refer to their batches (the `removed` and `dropped` records of a
   * change, and archived records) with those entries signed again, as restore() must write them:
   * `sheet` gives a batch's bytes by `segs/<key>` or `acts/<key>` (BoardChange.sheets, an
   * archive's sheets). Records without references come back as they are.
   */
  signedRecords(records: readonly TaskRecord[], sheet: (key: string) => Uint8Array | undefined): TaskRecord[] {
    const sigs = this.ctx.trust && new BatchSigs(this.ctx.trust);
    return records.map((r) => copy.signedRecord(r, sheet, sigs));
  }

  /**
   * Deletes the live entries of these tasks (they leave the live document for the archives): every
   * replica, this one included, then reports them in a change's `removed` records. A task batch
   * goes only with all its tasks, and with the other batches naming any of them (a task that
   * cannot go keeps its spec and facts); an activity batch only when it names no task that stays
   * (a task not held here stays unless `archived` says it was archived here).
   * Returns the number of entries deleted (the tombstones left in the document).
   */
  deleteTasks(ids: ReadonlySet<string>, archived?: (id: string) => boolean): number {
    return copy.deleteTasks(this.parts(), ids, archived);
  }

  /** Live task entries in the document (single tasks, facts, task batches, activity batches). */
  entryCount(): number {
    const t = this.tasks;
    return t.tasksMap.size + t.factsMap.size + t.segsMap.size + t.actsMap.size;
  }

  /** The task batch holding a task, if it came in one. */
  batchOf(id: string): string | undefined {
    return this.tasks.facts.get(id)?.segment;
  }

  /**
   * The other task batches naming a task this replica holds in a batch (its id or idempotency key
   * was submitted twice): when its holder leaves, the first of them holds it, so they leave together.
   */
  rivalBatches(id: string): readonly string[] {
    return this.tasks.rivalBatches(id);
  }

  /** The tasks a task batch holds (as this replica ingested it). */
  batchTasks(key: string): readonly string[] {
    return this.tasks.segTasks.get(key) ?? [];
  }

  private parts(): copy.BoardParts {
    return { tasks: this.tasks, peers: this.peerIndex, data: this.dataIndex, members: this.memberIndex, ctx: this.ctx };
  }

  // ---- reads ---------------------------------------------------------------------------------------

  taskIds(): IterableIterator<string> {
    return this.tasks.specs.keys();
  }

  get taskCount(): number {
    return this.tasks.specs.size;
  }

  getSpec(id: string): TaskSpec | undefined {
    return this.tasks.specs.get(id);
  }

  /** The task id that holds an idempotency key, if any. */
  taskByKey(key: string): string | undefined {
    return this.tasks.taskByKey(key);
  }

  /** Yjs ids of a task's entries (spec, facts): a state vector covering them holds all we know of it. */
  taskItemIds(id: string): { client: number; clock: number }[] {
    return this.tasks.itemIds(id);
  }

  /** The keys (`facts` form) of every fact this replica holds of a task, with or without its spec. */
  factKeysOf(id: string): string[] {
    return this.tasks.factKeysOf(id);
  }

  /** All validated facts of a task, or undefined if the task itself is unknown here. */
  getFacts(id: string): TaskFacts | undefined {
    return this.tasks.getFacts(id);
  }

  progress(id: string): Progress[] {
    return this.tasks.progress(id);
  }

  /** When this replica first saw a fact (its clock); the task's own first sighting if unknown. */
  seenAt(task: string, kind: FactKind, round: number, peer: string): number {
    return this.tasks.seenAt(task, kind, round, peer);
  }

  taskSeenAt(task: string): number {
    return this.tasks.taskSeenAt(task);
  }

  peers(): PeerInfo[] {
    return [...this.peerIndex.peerInfos.values()];
  }

  /** Changes whenever the peer registry changes. */
  get registryVersion(): number {
    return this.peerIndex.version;
  }

  peer(id: string): PeerInfo | undefined {
    return this.peerIndex.peerInfos.get(id);
  }

  beat(id: string): Beat | undefined {
    return this.peerIndex.beatsIndex.get(id);
  }

  /** When this replica last saw `id`'s heartbeat change (its own clock). */
  beatSeenAt(id: string): number | undefined {
    return this.peerIndex.beatSeen.get(id);
  }

  data(namespace?: string): DataEntry[] {
    return this.dataIndex.data(namespace);
  }

  getData(namespace: string, key: string): DataEntry | undefined {
    return this.dataIndex.getData(namespace, key);
  }

  get dataCount(): number {
    return this.dataIndex.entries.size;
  }
}
