// Liveness and load out of the document: every heartbeat a peer sends each connected peer a small
// ephemeral message (never stored, never applied to the document) with a sequence number, its load
// and counters, and the state vector of what it holds durably (on disk). Receivers note when they
// last saw each peer's sequence move; every fourth message also relays the latest sequence heard
// directly from each other peer, so a peer seen only through a third one still counts as alive
// (as heartbeats relayed by sync did when they lived in the document). Nothing in the document is
// overwritten in steady state.
//
// Each message also carries the state vector of what the sender holds now, and may ask for an
// acknowledgement: "answer me once you hold my client's clock N" (claim-gate.ts uses it before a
// run another peer might start too). The receiver answers with a presence of its own as soon as
// its document holds that clock. Both fields trail the message, so older peers ignore them.

import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import type { SyncEngine } from '../sync/engine.js';
import type { PeerContext } from './context.js';
import { presenceTurn } from '../sync/link-turns.js';

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
  /** What it held when it sent its latest direct message, in the generation named. */
  held: { generation: string; sv: Map<number, number> } | undefined;
}

/** A request to be told once the receiver holds `clock` of document client `client`. */
interface AckWant {
  client: number;
  clock: number;
}

/** `want` asks for more than `than` (another client, or a later clock of the same one). */
function asksMore(want: AckWant, than: AckWant | undefined): boolean {
  return !than || than.client !== want.client || than.clock < want.clock;
}

const VERSION = 1;
/** Every how many messages the relayed sequences go along. */
const RELAY_EVERY = 4;

export class Presence {
  private readonly known = new Map<string, Known>();
  private seq = 0;
  /** Heartbeats sent to every link, counted: above 16 links they take turns (sync/link-turns.ts). */
  private turn = 0;
  private incarnation = 0;
  /** What this peer asks every peer to acknowledge (see requestAck). */
  private want: AckWant | undefined;
  /** A new request to send with the next tick. */
  private wantDirty = false;
  /** What other peers asked this one to acknowledge, not answered yet. */
  private readonly wanted = new Map<string, AckWant>();
  /** The last request answered per peer: its presence repeats a request until it is cleared, and
   * answering each repetition would bounce presences between two peers with requests open. */
  private readonly answered = new Map<string, AckWant>();

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

  /**
   * Sends this peer's presence to every connected peer (in turns above 16, sync/link-turns.ts), or
   * to one. `request`: the beat carries a new request for acknowledgements, so it goes to every
   * link at once; later beats repeat the request in turns like any heartbeat (a peer that holds it
   * answers the first copy it gets).
   */
  beat(to?: string, request = false): void {
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
    encoding.writeVarUint8Array(enc, Y.encodeStateVector(ctx.board().doc));
    encoding.writeVarUint(enc, this.want?.client ?? 0);
    encoding.writeVarUint(enc, this.want?.clock ?? 0);
    const msg = encoding.toUint8Array(enc);
    // A new request for acknowledgements goes to every link; a heartbeat takes turns above 16.
    const some = to === undefined && !request ? presenceTurn(this.sync.connectedPeers(), this.turn++) : undefined;
    if (some) for (const p of some) this.sync.sendEphemeral(msg, p);
    else this.sync.sendEphemeral(msg, to);
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
      if (!decoding.hasContent(dec)) return;
      const held = Y.decodeStateVector(decoding.readVarUint8Array(dec));
      const want = { client: decoding.readVarUint(dec), clock: decoding.readVarUint(dec) };
      if (k) k.held = { generation, sv: held };
      if (want.clock > 0) {
        if (asksMore(want, this.answered.get(from))) {
          if (asksMore(want, this.wanted.get(from))) this.wanted.set(from, want);
          this.answerAcks();
        }
      }
      if (k) this.onHeld?.(from);
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
      const fresh: Known = { incarnation, seq, seenAt: now, directAt: undefined, state: undefined, durable: undefined, held: undefined };
      this.known.set(id, fresh);
      return fresh;
    }
    if (incarnation > k.incarnation) {
      // A restart: what it held durably before says nothing of its new life until it says so.
      k.durable = undefined;
      k.held = undefined;
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

  /** When `peer`'s current life started (its clock), if its presence was heard. */
  incarnationOf(peer: string): number | undefined {
    return this.known.get(peer)?.incarnation;
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

  /** Called when a peer's presence brought what it holds (claim-gate.ts re-checks its runs). */
  onHeld: ((peer: string) => void) | undefined;

  /** What `peer` held when it sent its latest direct presence, in generation `generation`. */
  heldOf(peer: string, generation: string): ReadonlyMap<number, number> | undefined {
    const h = this.known.get(peer)?.held;
    return h && h.generation === generation ? h.sv : undefined;
  }

  /**
   * Asks every peer to answer once it holds `clock` of this document client (the claims written
   * so far): sent with the next tick's presence, and with every presence until cleared.
   */
  requestAck(client: number, clock: number): void {
    if (this.want && this.want.client === client && this.want.clock >= clock) return;
    this.want = { client, clock };
    this.wantDirty = true;
  }

  /** Nothing waits for acknowledgements any more. */
  clearAck(): void {
    this.want = undefined;
    this.wantDirty = false;
  }

  /** True while a request of ours waits to be sent, or another peer's waits for its answer. */
  get acksPending(): boolean {
    return this.wantDirty || this.wanted.size > 0;
  }

  /** Called every tick: sends a new request, and answers the requests this replica now holds. */
  tickAcks(): void {
    if (this.ctx.stopped() || this.ctx.quiet()) return;
    if (this.wantDirty) {
      this.wantDirty = false;
      this.beat(undefined, true);
    }
    this.answerAcks();
  }

  private answerAcks(): void {
    if (this.wanted.size === 0 || this.ctx.stopped() || this.ctx.quiet()) return;
    const store = this.ctx.board().doc.store;
    for (const [from, w] of this.wanted) {
      if (Y.getState(store, w.client) < w.clock) continue;
      this.wanted.delete(from);
      this.answered.set(from, w);
      this.beat(from);
    }
  }
}
