// Yjs document sync over any Transport, in the y-protocols wire format (the one y-websocket speaks):
// on connect both sides send step 1 (their state vector) and answer with step 2 (what the other is
// missing); after that, local changes go out as incremental updates, merged over a short window
// (Y.mergeUpdates) so many small transactions cost one message. A periodic anti-entropy round
// announces each peer's state vector (a notice); what a notice names that is STILL missing after
// a grace period of a few round trips is pulled, from one peer at a time (pulls.ts), and a pull
// from a peer only a little behind is answered from a ring of recent updates
// (recent-updates.ts) instead of re-encoding the document. Every remote update is size-checked and
// applied once, inside a try: a bad one is reported (an 'invalid' event) and dropped, never
// thrown. Ephemeral messages carry application bytes that never touch the document; probes
// measure round trips. Messages of a later document generation are raised as typed events.

import * as Y from 'yjs';
import type { TimerId } from '../clock.js';
import type { Transport } from '../transport.js';
import { TypedEmitter } from '../emitter.js';
import type { LiveDocument } from '../peer/live-document.js';
import { MeshError } from '@agentmesh/scheduler';
import { DEFAULT_MAX_EPHEMERAL_BYTES, emptySyncStats, type SyncEvents, type SyncOptions, type SyncStats } from './engine-types.js';
import { Pulls } from './pulls.js';
import { RecentUpdates, answerPull } from './recent-updates.js';
import { noticeTurn } from './link-turns.js';
import { docClocks, remoteIsAhead } from './state-vectors.js';
import { GENESIS_NAME, MeshOrigin, STORAGE_ORIGIN, SYNC_NOTICE, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE } from './wire.js';
import { decodeMeshMessage, encodeEphemeral, encodeProbe, encodeSyncMessage, type MeshMessage } from './wire.js';

/** For this long after start, every new link is pulled from at once (see onConnect). */
const STARTUP_PULL_MS = 2000;
export { DEFAULT_MAX_EPHEMERAL_BYTES, type SyncEvents, type SyncOptions, type SyncStats } from './engine-types.js';

export class SyncEngine extends TypedEmitter<SyncEvents> {
  readonly stats: SyncStats = emptySyncStats();
  private outbox: Uint8Array[] = [];
  private batchTimer: TimerId | undefined;
  private aeTimer: TimerId | undefined;
  private running = false;
  /**
   * When a message last arrived directly from each peer (this clock). Unlike a heartbeat seen in
   * the document, which a third peer's sync may relay long after it was written, this is direct
   * evidence that the peer was up and its link to us open just now.
   */
  private readonly lastHeard = new Map<string, number>();
  /**
   * Who we pull from and when; it also keeps what each peer announced it holds in this generation
   * (archival only drops what every present peer holds) and the round trips.
   */
  private readonly pulls: Pulls;
  /** Recent updates of the document, to answer small pulls without re-encoding it. */
  private readonly recent = new RecentUpdates();
  /** Peers whose step 2 (full diff) we have applied since start. */
  private readonly syncedWith = new Set<string>();
  /** The origin of the remote update being applied, and whether it changed the document. */
  private applying: MeshOrigin | undefined;
  private appliedSome = false;
  private readonly onDocUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
    if (!this.running) return;
    // Replays of this peer's own log are not recorded: a log record may hold one half of a split
    // remote update (see applyRemote), and a ring answer must never carry half of one.
    if (origin === STORAGE_ORIGIN) this.recent.clear();
    else this.recent.record(update, tr.beforeState);
    if (origin instanceof MeshOrigin) {
      if (origin === this.applying) this.appliedSome = true;
      return;
    }
    if (origin === STORAGE_ORIGIN) return;
    this.outbox.push(update);
    if (this.batchTimer === undefined) this.batchTimer = this.opts.clock.setTimeout(() => this.flush(), this.opts.batchMs);
  };

  /** When we last told each peer on an earlier generation about ours. */
  private readonly lastNotice = new Map<string, number>();

  /** The document synced (the live one when following a LiveDocument). */
  private doc: Y.Doc;
  /** The generation of `doc` (its wire name). */
  private generation: string;
  /** The handle followed, if any: its generation is read at start, its replacements followed. */
  private live: LiveDocument | undefined;

  constructor(
    doc: Y.Doc | LiveDocument,
    readonly transport: Transport,
    private readonly opts: SyncOptions,
    generation = GENESIS_NAME,
  ) {
    super();
    this.pulls = new Pulls({
      clock: opts.clock,
      batchMs: opts.batchMs,
      repairMs: opts.repairMs,
      connectedPeers: () => this.transport.connectedPeers(),
      doc: () => this.doc,
      sendPull: (peer) => this.sendRaw(peer, encodeSyncMessage(SYNC_STEP1, Y.encodeStateVector(this.doc), this.generation)),
      stats: this.stats,
    });
    if (doc instanceof Y.Doc) {
      this.doc = doc;
      this.generation = generation;
    } else {
      this.live = doc;
      this.doc = doc.doc;
      this.generation = doc.name;
      doc.on('replaced', (e) => this.setDoc(e.doc, e.name));
    }
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** When a message last arrived directly from `peer` (this clock), if ever. */
  lastHeardFrom(peer: string): number | undefined {
    return this.lastHeard.get(peer);
  }

  /** The latest state vector `peer` announced in this generation (what it holds), if any. */
  stateVectorOf(peer: string): ReadonlyMap<number, number> | undefined {
    return this.pulls.announced.of(peer);
  }

  /** Does the document hold everything of state vector `sv` (every client's clock)? */
  holds(sv: ReadonlyMap<number, number>): boolean {
    for (const [client, clock] of sv) if (Y.getState(this.doc.store, client) < clock) return false;
    return true;
  }

  /** Peers whose full diff this engine applied (or who held nothing new) since start or the last generation change. */
  syncedPeers(): string[] {
    return [...this.syncedWith];
  }

  /** Peers the transport is connected to now. */
  connectedPeers(): readonly string[] { return this.transport.connectedPeers(); } // prettier-ignore

  /** Has this engine caught up with any peer since start? */
  hasSynced(): boolean {
    return this.syncedWith.size > 0;
  }

  /** The generation name messages are tagged with. */
  get generationName(): string {
    return this.generation;
  }

  /**
   * Moves to the next generation's document: buffered updates of the old one are dropped (the new
   * document holds their content), and every connected peer gets a step 1 of the new one.
   */
  setDoc(doc: Y.Doc, generation: string): void {
    if (this.batchTimer !== undefined) this.opts.clock.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.outbox = [];
    if (this.running) this.doc.off('update', this.onDocUpdate);
    this.doc = doc;
    this.generation = generation;
    this.syncedWith.clear();
    this.recent.clear();
    this.pulls.reset();
    if (this.running) {
      this.doc.on('update', this.onDocUpdate);
      const notice = this.noticeMessage();
      for (const p of this.transport.connectedPeers()) this.sendNotice(p, notice);
    }
  }

  /** Asks `peer`, which is on generation `gen`, for its whole document of that generation. */
  requestBase(peer: string, gen: string): void {
    if (!this.running) return;
    this.sendRaw(peer, encodeSyncMessage(SYNC_STEP1, Y.encodeStateVector(new Y.Doc()), gen));
  }

  start(): void {
    if (this.running) return;
    // A followed document may have learned its generation from storage since construction.
    if (this.live) this.generation = this.live.name;
    this.running = true;
    this.doc.on('update', this.onDocUpdate);
    this.transport.setHandlers({
      message: (from, data) => this.receive(from, data),
      connect: (peer) => this.onConnect(peer),
      disconnect: (peer) => this.pulls.disconnected(peer),
      receiving: (from) => this.pulls.receiving(from, this.opts.clock.now()),
    });
    this.pulls.start();
    this.startedAt = this.opts.clock.now();
    for (const p of this.transport.connectedPeers()) this.onConnect(p);
    this.scheduleAntiEntropy();
  }

  /** Stops sending; buffered updates are flushed first when `flush` is true. */
  stop(flush = true): void {
    if (!this.running) return;
    if (flush) this.flush();
    this.running = false;
    this.doc.off('update', this.onDocUpdate);
    if (this.batchTimer !== undefined) this.opts.clock.clearTimeout(this.batchTimer);
    if (this.aeTimer !== undefined) this.opts.clock.clearTimeout(this.aeTimer);
    this.batchTimer = this.aeTimer = undefined;
    this.pulls.stop();
    this.outbox = [];
  }

  /** Sends every buffered local update now, merged into one message. */
  flush(): void {
    if (this.batchTimer !== undefined) this.opts.clock.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (!this.running || this.outbox.length === 0) return;
    const merged = this.outbox.length === 1 ? this.outbox[0]! : Y.mergeUpdates(this.outbox);
    this.outbox = [];
    const msg = encodeSyncMessage(SYNC_UPDATE, merged, this.generation);
    this.stats.updatesSent++;
    if (this.transport.broadcast) {
      this.count(msg);
      this.transport.broadcast(msg);
    } else {
      for (const p of this.transport.connectedPeers()) this.sendRaw(p, msg);
    }
  }

  private startedAt = 0;
  /** The turn of the next anti-entropy round (link-turns.ts). */
  private noticeRound = 0;

  /**
   * A link came up. Right after start a peer pulls from every peer it meets at once (it knows
   * nothing yet, and the registry of peers it learns decides quorums); later it only announces
   * its state (and probes the round trip), and pulls one peer at a time.
   */
  private onConnect(peer: string): void {
    this.pulls.connected(peer);
    this.sendNotice(peer);
    if (this.opts.clock.now() - this.startedAt < STARTUP_PULL_MS) this.sendStep1(peer);
    else this.probe(peer);
    this.emit('connect', { peer });
  }

  /**
   * Tells `peer` our state vector (it pulls from us if it lacks something; no reply expected).
   * `notice`: the message already encoded, when one is sent to many peers at once.
   */
  sendNotice(peer: string, notice?: Uint8Array): void {
    if (!this.running) return;
    this.sendRaw(peer, notice ?? this.noticeMessage());
  }

  private noticeMessage(): Uint8Array {
    return encodeSyncMessage(SYNC_NOTICE, Y.encodeStateVector(this.doc), this.generation);
  }

  /**
   * Sends application bytes to `to`, or to every connected peer: never stored, never applied to
   * the document; the other side raises an 'ephemeral' event. Best effort, like every send.
   * Throws MeshError('INVALID_ARGUMENT') when `data` is not bytes or is over maxEphemeralBytes.
   */
  sendEphemeral(data: Uint8Array, to?: string): void {
    if (!(data instanceof Uint8Array)) throw new MeshError('INVALID_ARGUMENT', 'sendEphemeral needs a Uint8Array');
    const limit = this.maxEphemeralBytes;
    if (data.byteLength > limit) throw new MeshError('INVALID_ARGUMENT', `ephemeral message of ${data.byteLength} bytes is over the ${limit}-byte limit`);
    if (!this.running) return;
    const msg = encodeEphemeral(data);
    this.stats.ephemeralSent++;
    if (to !== undefined) this.sendRaw(to, msg);
    else if (this.transport.broadcast) {
      if (this.transport.connectedPeers().length === 0) return;
      this.count(msg);
      this.transport.broadcast(msg);
    } else for (const p of this.transport.connectedPeers()) this.sendRaw(p, msg);
  }

  private get maxEphemeralBytes(): number {
    return this.opts.maxEphemeralBytes ?? DEFAULT_MAX_EPHEMERAL_BYTES;
  }

  /** Asks `peer` to echo our clock (a round-trip sample when the pong comes back). */
  private probe(peer: string): void {
    if (!this.running) return;
    this.sendRaw(peer, encodeProbe(false, this.opts.clock.now()));
  }

  /** Asks `peer` for what we miss (a pull; the reply is a step 2). */
  sendStep1(peer: string, big = false): void {
    if (!this.running) return;
    this.pulls.pull(peer, big);
  }

  /** The largest smoothed round trip to a connected peer, ms (0 when none measured yet). */
  maxRtt(): number {
    return this.pulls.maxRtt();
  }

  /**
   * One anti-entropy round: our state vector to the connected peers whose turn it is (all, up to
   * 16: link-turns.ts), a probe to peers not measured lately, and a pull if some peer's announced
   * state is still ahead of ours after the grace period.
   */
  antiEntropy(): void {
    const now = this.opts.clock.now();
    const notice = this.noticeMessage();
    for (const [p, notify] of noticeTurn(this.transport.connectedPeers(), this.noticeRound++)) {
      if (notify) this.sendNotice(p, notice);
      if (this.pulls.probeDue(p, now)) this.probe(p);
    }
    this.pulls.maybePull();
  }

  private scheduleAntiEntropy(): void {
    if (!this.running || this.opts.antiEntropyMs <= 0) return;
    this.aeTimer = this.opts.clock.setTimeout(() => {
      this.antiEntropy();
      this.scheduleAntiEntropy();
    }, this.opts.antiEntropyMs);
  }

  private count(msg: Uint8Array): void {
    this.stats.sentMessages++;
    this.stats.sentBytes += msg.byteLength;
  }

  private sendRaw(peer: string, msg: Uint8Array): void {
    this.count(msg);
    this.transport.send(peer, msg);
  }

  private reject(from: string, reason: string): void {
    this.stats.rejected++;
    this.emit('invalid', { from, reason });
  }

  /** Handles one message from the mesh. Never throws. */
  receive(from: string, data: Uint8Array): void {
    if (!this.running) return;
    this.stats.receivedMessages++;
    this.stats.receivedBytes += data.byteLength;
    if (data.byteLength > this.opts.maxMessageBytes) {
      this.reject(from, `message of ${data.byteLength} bytes is over the ${this.opts.maxMessageBytes}-byte limit`);
      return;
    }
    let msg: MeshMessage;
    try {
      msg = decodeMeshMessage(data);
    } catch (e) {
      this.reject(from, `undecodable message: ${(e as Error).message}`);
      return;
    }
    const now = this.opts.clock.now();
    this.lastHeard.set(from, now);
    if (msg.type === 'ephemeral') {
      if (msg.data.byteLength > this.maxEphemeralBytes) {
        this.reject(from, `ephemeral message of ${msg.data.byteLength} bytes is over the ${this.maxEphemeralBytes}-byte limit`);
        return;
      }
      this.stats.ephemeralReceived++;
      this.emit('ephemeral', { from, data: msg.data });
      return;
    }
    if (msg.type === 'probe') {
      if (msg.pong) this.pulls.roundTrips.sample(from, now - msg.time, now);
      else this.sendRaw(from, encodeProbe(true, msg.time));
      return;
    }
    if (msg.gen !== this.generation) {
      const cmp = this.opts.compareGenerations?.(msg.gen, this.generation) ?? 0;
      if (cmp > 0) {
        if (msg.sub === SYNC_STEP2) this.emit('base', { from, name: msg.gen, update: msg.payload });
        else this.emit('laterGeneration', { from, name: msg.gen });
      }
      else if (cmp < 0) {
        // The sender is behind: our step 1 tells it which generation we are on (at most once per repair period).
        const last = this.lastNotice.get(from);
        if (last === undefined || now - last >= this.opts.repairMs) {
          this.lastNotice.set(from, now);
          this.sendNotice(from);
        }
      } else this.reject(from, `unknown generation ${JSON.stringify(msg.gen.slice(0, 60))}`);
      return;
    }
    if (msg.sub === SYNC_STEP1 || msg.sub === SYNC_NOTICE) {
      this.onStateVector(from, msg.sub, msg.payload, now);
      return;
    }
    if (msg.sub === SYNC_STEP2) this.pulls.answered(from, now);
    if (this.applyRemote(from, msg.payload) && msg.sub === SYNC_STEP2) {
      this.syncedWith.add(from);
      this.pulls.afterAnswer();
    }
  }

  /** A notice (what `from` holds) or a pull (answered with what it lacks). */
  private onStateVector(from: string, sub: number, payload: Uint8Array, now: number): void {
    let sv: Map<number, number>;
    try {
      sv = Y.decodeStateVector(payload);
    } catch (e) {
      this.reject(from, `bad state vector: ${(e as Error).message}`);
      return;
    }
    const local = docClocks(this.doc);
    const ahead = remoteIsAhead(sv, local);
    this.pulls.announce(from, sv, now, ahead);
    if (sub === SYNC_STEP1) {
      let diff: Uint8Array;
      try {
        diff = answerPull(this.doc, this.recent, sv, payload, local, this.stats);
      } catch (e) {
        this.reject(from, `bad state vector: ${(e as Error).message}`);
        return;
      }
      this.sendRaw(from, encodeSyncMessage(SYNC_STEP2, diff, this.generation));
    } else if (!ahead) {
      // It holds nothing we lack: as good as a full sync with it (a restarted peer has caught up).
      this.syncedWith.add(from);
    }
    this.pulls.maybePull();
  }

  /**
   * Applies a remote update, once, inside a try. Yjs reads every struct before it integrates any,
   * so malformed structs change nothing; the delete set is read after, so a malformed one leaves
   * the update's well-formed structs (and the deletions read before the fault) applied, as if they
   * had come alone: nothing a well-formed update could not do, and reported all the same.
   * Returns false (and reports) when rejected.
   */
  applyRemote(from: string, update: Uint8Array): boolean {
    const origin = new MeshOrigin(from);
    const store = this.doc.store;
    const pendingBefore = store.pendingStructs !== null || store.pendingDs !== null;
    this.applying = origin;
    this.appliedSome = false;
    try {
      Y.applyUpdate(this.doc, update, origin);
    } catch (e) {
      const text = (e as Error).message || String(e);
      this.recent.clear();
      this.reject(from, this.appliedSome ? `update failed part way (its well-formed part stays applied): ${text}` : `malformed update: ${text}`);
      return false;
    } finally {
      this.applying = undefined;
    }
    // An update whose structs wait for missing ones (pending) is split by Yjs: its deletions are
    // applied (and emitted) now, its structs in the later transaction that fills the gap. A ring
    // answer starting between the two halves would hand a peer the structs without the deletions,
    // and it would never learn of them (it then holds every clock). So the ring forgets everything
    // up to the end of such an episode; until it refills, pulls get whole-document answers (they
    // include the deletions and the pending parts).
    if (pendingBefore || store.pendingStructs !== null || store.pendingDs !== null) this.recent.clear();
    // Yjs integrates each client's updates in order: after a lost message everything later from
    // that client waits as "pending". Ask the sender for a diff now instead of at the next
    // anti-entropy round, so one drop does not hide a peer's bids and claims for a whole period.
    if (this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null) this.pulls.repair(from);
    return true;
  }
}
