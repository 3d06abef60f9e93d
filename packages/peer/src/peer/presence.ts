// Liveness and load out of the document: every heartbeat a peer sends each connected peer a small
// ephemeral message (never stored, never applied to the document) with a sequence number, its load
// and counters, and the state vector of what it holds durably (on disk). Receivers note when they
// last saw each peer's sequence move; every fourth message also relays the latest sequence heard
// directly from each other peer, so a peer seen only through a third one still counts as alive
// (as heartbeats relayed by sync did when they lived in the document). Nothing in the document is
// overwritten in steady state.

import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import type { SyncEngine } from '../sync/engine.js';
import type { PeerContext } from './context.js';

/** What a peer says of itself in each presence message. */
export interface PresenceState {
  load: number;
  running: number;
  done: number;
  dataWrites: number;
}

interface Known {
  incarnation: number;
  seq: number;
  /** When this replica last saw the sequence move (its clock), directly or relayed. */
  seenAt: number;
  /** The sender's clock of its latest message heard directly, and when it arrived. */
  directAt: number | undefined;
  state: PresenceState | undefined;
  /** What it holds durably, in the generation named. */
  durable: { generation: string; sv: Map<number, number> } | undefined;
}

const VERSION = 1;
/** Every how many messages the relayed sequences go along. */
const RELAY_EVERY = 4;

export class Presence {
  private readonly known = new Map<string, Known>();
  private seq = 0;
  private incarnation = 0;

  constructor(
    private readonly ctx: PeerContext,
    private readonly sync: SyncEngine,
    /** This peer's own figures and durable state vector (with its generation), read at each beat. */
    private readonly local: () => PresenceState & { generation: string; durableSV: Uint8Array },
  ) {
    sync.on('ephemeral', ({ from, data }) => this.receive(from, data));
    // A new link hears from us at once, not a heartbeat later (a fresh peer is then alive to it).
    sync.on('connect', ({ peer }) => {
      if (!ctx.stopped() && !ctx.quiet()) this.beat(peer);
    });
  }

  /** The peer started at `now` (its incarnation: a restart is a new one, with sequences from 0). */
  started(now: number): void {
    this.incarnation = now;
  }

  /** Sends this peer's presence to every connected peer (or to one). */
  beat(to?: string): void {
    const { ctx } = this;
    const me = this.local();
    const enc = encoding.createEncoder();
    encoding.writeUint8(enc, VERSION);
    encoding.writeVarUint(enc, ++this.seq);
    encoding.writeFloat64(enc, this.incarnation);
    encoding.writeFloat64(enc, ctx.clock.now());
    encoding.writeVarUint(enc, Math.max(0, Math.round(me.load)));
    encoding.writeVarUint(enc, Math.max(0, Math.round(me.running)));
    encoding.writeVarUint(enc, Math.max(0, Math.round(me.done)));
    encoding.writeVarUint(enc, Math.max(0, Math.round(me.dataWrites)));
    encoding.writeVarString(enc, me.generation);
    encoding.writeVarUint8Array(enc, me.durableSV);
    const relay: [string, Known][] = [];
    if (this.seq % RELAY_EVERY === 0) {
      const now = ctx.clock.now();
      for (const [id, k] of this.known) if (k.directAt !== undefined && now - k.seenAt <= ctx.timing.lease.leaseMs) relay.push([id, k]);
    }
    encoding.writeVarUint(enc, relay.length);
    for (const [id, k] of relay) {
      encoding.writeVarString(enc, id);
      encoding.writeFloat64(enc, k.incarnation);
      encoding.writeVarUint(enc, k.seq);
    }
    this.sync.sendEphemeral(encoding.toUint8Array(enc), to);
  }

  private receive(from: string, data: Uint8Array): void {
    if (this.ctx.stopped()) return;
    const now = this.ctx.clock.now();
    try {
      const dec = decoding.createDecoder(data);
      if (decoding.readUint8(dec) !== VERSION) return;
      const seq = decoding.readVarUint(dec);
      const incarnation = decoding.readFloat64(dec);
      const at = decoding.readFloat64(dec);
      const state: PresenceState = { load: decoding.readVarUint(dec), running: decoding.readVarUint(dec), done: decoding.readVarUint(dec), dataWrites: decoding.readVarUint(dec) };
      const generation = decoding.readVarString(dec);
      const sv = Y.decodeStateVector(decoding.readVarUint8Array(dec));
      const k = this.note(from, incarnation, seq, now);
      if (k) {
        k.directAt = at;
        k.state = state;
        k.durable = { generation, sv };
      }
      const n = decoding.readVarUint(dec);
      for (let i = 0; i < n && i < 1024; i++) {
        const id = decoding.readVarString(dec);
        const inc = decoding.readFloat64(dec);
        const s = decoding.readVarUint(dec);
        if (id !== this.ctx.id && id !== from) this.note(id, inc, s, now);
      }
    } catch (e) {
      this.ctx.log.log('debug', 'ignored a malformed presence message', { from, error: (e as Error).message });
    }
  }

  /** Records a sequence of `id`; returns its entry when the sequence moved (else undefined). */
  private note(id: string, incarnation: number, seq: number, now: number): Known | undefined {
    if (!Number.isFinite(incarnation)) return undefined;
    const k = this.known.get(id);
    if (k && (incarnation < k.incarnation || (incarnation === k.incarnation && seq <= k.seq))) return undefined;
    if (!k) {
      const fresh: Known = { incarnation, seq, seenAt: now, directAt: undefined, state: undefined, durable: undefined };
      this.known.set(id, fresh);
      return fresh;
    }
    if (incarnation > k.incarnation) {
      // A restart: what it held durably before says nothing of its new life until it says so.
      k.durable = undefined;
      k.directAt = undefined;
    }
    k.incarnation = incarnation;
    k.seq = seq;
    k.seenAt = now;
    return k;
  }

  /**
   * This peer's own event loop stalled for `ms` (its timers fired that late): nothing could be
   * heard in that time, so every peer is given that time back, and no lease lapses only because
   * this peer was not listening.
   */
  credit(ms: number): void {
    const now = this.ctx.clock.now();
    for (const k of this.known.values()) k.seenAt = Math.min(now, k.seenAt + ms);
  }

  /** When this replica last saw `peer`'s presence move (its clock), if ever. */
  seenAt(peer: string): number | undefined {
    return this.known.get(peer)?.seenAt;
  }

  /** The sender's clock of the latest presence heard directly from `peer`. */
  lastDirectAt(peer: string): number | undefined {
    return this.known.get(peer)?.directAt;
  }

  /** `peer`'s figures as it last reported them directly. */
  stateOf(peer: string): PresenceState | undefined {
    return this.known.get(peer)?.state;
  }

  /** What `peer` holds durably in generation `generation`, if it said so. */
  durableOf(peer: string, generation: string): ReadonlyMap<number, number> | undefined {
    const d = this.known.get(peer)?.durable;
    return d && d.generation === generation ? d.sv : undefined;
  }
}
