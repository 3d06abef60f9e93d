// Yjs document sync over any Transport, in the y-protocols wire format (the one y-websocket speaks):
// on connect both sides send step 1 (their state vector) and answer with step 2 (what the other is
// missing); after that, local changes go out as incremental updates, merged over a short window
// (Y.mergeUpdates) so many small transactions cost one message. A periodic anti-entropy round
// (step 1 again) repairs whatever the network dropped, and since a diff always carries the full
// delete set, deletions converge too. Every remote update is size-checked and decoded before it
// touches the document; a bad one is reported (an 'invalid' event) and dropped, never thrown.
// Messages of a later document generation are raised as typed events for the peer to act on.

import * as Y from 'yjs';
import type { Clock, TimerId } from '../clock.js';
import type { Transport } from '../transport.js';
import { TypedEmitter } from '../emitter.js';
import type { LiveDocument } from '../peer/live-document.js';
import { RoundTrips } from './round-trips.js';
import { covers, missingItems, remoteIsAhead } from './state-vectors.js';
import { GENESIS_NAME, MeshOrigin, STORAGE_ORIGIN, SYNC_NOTICE, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE, checkUpdate, decodeSyncMessage, encodeSyncMessage, type SyncMessage } from './wire.js';

const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());
/**
 * A pull of at least this many missing items (a heal) holds back gap repairs until it is answered:
 * it will most likely bring what they would ask for, and each would be a full diff too.
 */
const BIG_PULL_ITEMS = 2000;
/** For this long after start, every new link is pulled from at once (see onConnect). */
const STARTUP_PULL_MS = 2000;

export interface SyncStats {
  sentMessages: number;
  sentBytes: number;
  receivedMessages: number;
  receivedBytes: number;
  rejected: number;
  updatesSent: number;
  /** Gap repairs asked for (step 1 sent because updates were missing). */
  repairs: number;
}

export interface SyncOptions {
  clock: Clock;
  /** Window over which local updates are merged into one message; 0 sends on the next timer turn. */
  batchMs: number;
  /** Period of the anti-entropy state-vector exchange. */
  antiEntropyMs: number;
  /** Minimum time between two gap repairs asked of one peer. */
  repairMs: number;
  /** Messages larger than this are rejected unread. */
  maxMessageBytes: number;
  /** Orders two generation names (negative: a before b). Without it, other generations are rejected. */
  compareGenerations?: (a: string, b: string) => number;
}

export type SyncEvents = {
  /** Something a peer sent was rejected (oversized, undecodable, a bad update); it was dropped. */
  invalid: { from: string; reason: string };
  /**
   * A peer on a later generation spoke to us (the peer decides whether to move, and may ask it for
   * that generation's document with `requestBase`).
   */
  laterGeneration: { from: string; name: string };
  /** A peer on a later generation sent its whole document of it (the answer to `requestBase`). */
  base: { from: string; name: string; update: Uint8Array };
};

export class SyncEngine extends TypedEmitter<SyncEvents> {
  readonly stats: SyncStats = { sentMessages: 0, sentBytes: 0, receivedMessages: 0, receivedBytes: 0, rejected: 0, updatesSent: 0, repairs: 0 };
  private outbox: Uint8Array[] = [];
  private batchTimer: TimerId | undefined;
  private aeTimer: TimerId | undefined;
  private running = false;
  /** Last time we asked each peer to repair a gap (its updates arrived out of order or were lost). */
  private readonly lastRepair = new Map<string, number>();
  /** Pulls timed until their answers (the step 2 reply times the round trip). */
  private readonly roundTrips = new RoundTrips();
  /**
   * When a message last arrived directly from each peer (this clock). Unlike a heartbeat seen in
   * the document, which a third peer's sync may relay long after it was written, this is direct
   * evidence that the peer was up and its link to us open just now.
   */
  private readonly lastHeard = new Map<string, number>();
  /**
   * The latest state vector each peer sent us (its step 1) in this generation: what it holds, so
   * what it has acknowledged of ours. Archival only drops what every present peer holds.
   */
  private readonly remoteSV = new Map<string, Map<number, number>>();
  /** Peers whose step 2 (full diff) we have applied since start. */
  private readonly syncedWith = new Set<string>();
  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (!this.running || origin instanceof MeshOrigin || origin === STORAGE_ORIGIN) return;
    this.outbox.push(update);
    if (this.batchTimer === undefined) this.batchTimer = this.opts.clock.setTimeout(() => this.flush(), this.opts.batchMs);
  };

  /**
   * The step 1 we sent to pull what we lack, and when: one pull at a time, so after a heal the
   * other side's content comes once, from one peer, instead of from each of them.
   */
  private pulling: { peer: string; at: number; big: boolean } | undefined;
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
    return this.remoteSV.get(peer);
  }

  /** Peers whose full diff this engine applied (or who held nothing new) since start or the last generation change. */
  syncedPeers(): string[] {
    return [...this.syncedWith];
  }

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
    this.remoteSV.clear();
    this.pulling = undefined;
    if (this.running) {
      this.doc.on('update', this.onDocUpdate);
      for (const p of this.transport.connectedPeers()) this.sendNotice(p);
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
      // A pull from a peer that went away will never be answered: pull elsewhere at once.
      disconnect: (peer) => {
        if (this.pulling?.peer === peer) {
          this.pulling = undefined;
          this.maybePull();
        }
      },
    });
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

  /**
   * A link came up. Right after start a peer pulls from every peer it meets at once (it knows
   * nothing yet, and the registry of peers it learns decides quorums); later it only announces
   * its state, and pulls one peer at a time.
   */
  private onConnect(peer: string): void {
    this.sendNotice(peer);
    if (this.opts.clock.now() - this.startedAt < STARTUP_PULL_MS) this.sendStep1(peer);
  }

  /** Tells `peer` our state vector (it pulls from us if it lacks something; no reply expected). */
  sendNotice(peer: string): void {
    if (!this.running) return;
    this.sendRaw(peer, encodeSyncMessage(SYNC_NOTICE, Y.encodeStateVector(this.doc), this.generation));
  }

  /**
   * How long a pull may stay unanswered before another is sent (and gap repairs wait for it): a
   * large one (a heal) gets seconds, a small one a few round trips.
   */
  private pullTimeoutMs(big = this.pulling?.big ?? false): number {
    return big ? Math.max(2000, 4 * this.maxRtt()) : Math.max(150, 3 * this.maxRtt());
  }

  /** Pulls from a connected peer known to hold something we lack, unless a pull is under way. */
  private maybePull(): void {
    const now = this.opts.clock.now();
    if (this.pulling && now - this.pulling.at < this.pullTimeoutMs()) return;
    this.pulling = undefined;
    const connected = new Set(this.transport.connectedPeers());
    let local: Map<number, number> | undefined;
    for (const [peer, sv] of this.remoteSV) {
      if (!connected.has(peer)) continue;
      local ??= Y.decodeStateVector(Y.encodeStateVector(this.doc));
      if (remoteIsAhead(sv, local)) {
        this.sendStep1(peer, missingItems(sv, local) >= BIG_PULL_ITEMS);
        return;
      }
    }
  }

  /** Asks `peer` for what we miss (a pull; the reply is a step 2). */
  sendStep1(peer: string, big = false): void {
    if (!this.running) return;
    this.pulling = { peer, at: this.opts.clock.now(), big };
    this.roundTrips.sent(peer, this.opts.clock.now());
    this.sendRaw(peer, encodeSyncMessage(SYNC_STEP1, Y.encodeStateVector(this.doc), this.generation));
  }

  /** The largest smoothed round trip to a connected peer, ms (0 when none measured yet). */
  maxRtt(): number {
    return this.roundTrips.max(this.transport.connectedPeers());
  }

  private repair(peer: string): void {
    const now = this.opts.clock.now();
    // A pull under way (after a heal, the other side's whole diff) will most likely bring what is
    // missing: wait for it instead of asking every sender of a dependent update for a full diff.
    // One pull at a time, repairs included: under load, every sender of an update that depends
    // on something missing would otherwise be asked for a full diff at once.
    if (this.pulling && now - this.pulling.at < this.pullTimeoutMs()) {
      this.repairWanted.add(peer);
      return;
    }
    const last = this.lastRepair.get(peer);
    if (last !== undefined && now - last < this.opts.repairMs) return;
    this.lastRepair.set(peer, now);
    this.stats.repairs++;
    this.sendStep1(peer);
  }

  /** Peers a repair was put off for while a pull was under way. */
  private readonly repairWanted = new Set<string>();

  /**
   * One anti-entropy round: our state vector to every connected peer (small), and a pull if some
   * peer's last announced state holds something we lack.
   */
  antiEntropy(): void {
    for (const p of this.transport.connectedPeers()) this.sendNotice(p);
    this.maybePull();
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
    let msg: SyncMessage;
    try {
      msg = decodeSyncMessage(data);
    } catch (e) {
      this.reject(from, `undecodable message: ${(e as Error).message}`);
      return;
    }
    this.lastHeard.set(from, this.opts.clock.now());
    if (msg.gen !== this.generation) {
      const cmp = this.opts.compareGenerations?.(msg.gen, this.generation) ?? 0;
      if (cmp > 0) {
        if (msg.sub === SYNC_STEP2) this.emit('base', { from, name: msg.gen, update: msg.payload });
        else this.emit('laterGeneration', { from, name: msg.gen });
      }
      else if (cmp < 0) {
        // The sender is behind: our step 1 tells it which generation we are on (at most once per repair period).
        const now = this.opts.clock.now();
        const last = this.lastNotice.get(from);
        if (last === undefined || now - last >= this.opts.repairMs) {
          this.lastNotice.set(from, now);
          this.sendNotice(from);
        }
      } else this.reject(from, `unknown generation ${JSON.stringify(msg.gen.slice(0, 60))}`);
      return;
    }
    if (msg.sub === SYNC_STEP1 || msg.sub === SYNC_NOTICE) {
      let sv: Map<number, number>;
      try {
        sv = Y.decodeStateVector(msg.payload);
      } catch (e) {
        this.reject(from, `bad state vector: ${(e as Error).message}`);
        return;
      }
      if (sv.size > 0) this.remoteSV.set(from, sv);
      const local = Y.decodeStateVector(Y.encodeStateVector(this.doc));
      if (msg.sub === SYNC_STEP1) {
        // A pull: answer with what the asker lacks. When it holds every client clock of ours it
        // lacks nothing (this document never deletes without inserting, so deletions travel with
        // the insertions that caused them): an empty answer instead of the whole delete set.
        let diff: Uint8Array;
        try {
          diff = covers(sv, local) ? EMPTY_UPDATE : Y.encodeStateAsUpdate(this.doc, msg.payload);
        } catch (e) {
          this.reject(from, `bad state vector: ${(e as Error).message}`);
          return;
        }
        this.sendRaw(from, encodeSyncMessage(SYNC_STEP2, diff, this.generation));
      } else if (!remoteIsAhead(sv, local)) {
        // It holds nothing we lack: as good as a full sync with it (a restarted peer has caught up).
        this.syncedWith.add(from);
      }
      this.maybePull();
      return;
    }
    if (msg.sub === SYNC_STEP2) {
      this.roundTrips.answered(from, this.opts.clock.now());
      if (this.pulling?.peer === from) this.pulling = undefined;
    }
    if (this.applyRemote(from, msg.payload) && msg.sub === SYNC_STEP2) {
      this.syncedWith.add(from);
      if (this.pulling === undefined && this.repairWanted.size > 0) {
        const still = this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null;
        const next = [...this.repairWanted].find((p) => this.transport.connectedPeers().includes(p));
        this.repairWanted.clear();
        if (still && next !== undefined) {
          this.repair(next);
          return;
        }
      }
      this.maybePull();
    }
  }

  /** Validates and applies a remote update. Returns false (and reports) when rejected. */
  applyRemote(from: string, update: Uint8Array): boolean {
    const problem = checkUpdate(update);
    if (problem) {
      this.reject(from, problem);
      return false;
    }
    try {
      Y.applyUpdate(this.doc, update, new MeshOrigin(from));
      // Yjs integrates each client's updates in order: after a lost message everything later from
      // that client waits as "pending". Ask the sender for a diff now instead of at the next
      // anti-entropy round, so one drop does not hide a peer's bids and claims for a whole period.
      if (this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null) this.repair(from);
      return true;
    } catch (e) {
      this.reject(from, `update failed to apply: ${(e as Error).message}`);
      return false;
    }
  }
}

