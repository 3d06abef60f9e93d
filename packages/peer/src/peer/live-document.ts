// The handle on a peer's live document, in the spirit of automerge-repo's DocHandle. The Yjs
// document is replaced by a new one at each generation change (docs/bounded-document.md); whoever
// works on it (sync, storage, the websocket bridge, the simulator's checks) asks the handle for the
// current one and listens to 'replaced' instead of keeping a reference and re-wiring by hand.

import * as Y from 'yjs';
import type { Rng } from '@agentmesh/scheduler';
import { GENESIS, TaskBoard, compareGenerations, encodeGeneration, parseGeneration, type EntryTrust, type Generation, type InvalidEntry } from '@agentmesh/crdt-store';
import { TypedEmitter } from '../emitter.js';
import { GENESIS_NAME } from '../sync/wire.js';

/** The name a generation is known by on the wire (the first one has the plain y-protocols name). */
export function generationName(g: Generation): string {
  return g.n === 0 ? GENESIS_NAME : encodeGeneration(g);
}

const Y_CLIENT_MAX = 0xffffffff;

/**
 * A fresh document with its typed board. Every document and every start gets a new Yjs client id
 * (from the peer's seeded random source): reusing one after a crash could collide with updates
 * that left this peer but never reached its disk.
 */
export function newDocument(rng: Rng, now: () => number, onInvalid: (e: InvalidEntry) => void, trust?: EntryTrust): { doc: Y.Doc; board: TaskBoard } {
  const doc = new Y.Doc();
  doc.clientID = 1 + Math.floor(rng.next() * (Y_CLIENT_MAX - 1));
  return { doc, board: new TaskBoard(doc, trust ? { now, onInvalid, trust } : { now, onInvalid }) };
}

/** Orders two generation wire names (negative: a before b; 0 when either is unreadable). */
export function compareGenerationNames(a: string, b: string): number {
  const ga = parseGeneration(a);
  const gb = parseGeneration(b);
  if (!ga || !gb) return 0;
  return compareGenerations(ga, gb);
}

export type LiveDocumentEvents = {
  /**
   * The document was replaced by a new generation's. Listeners run in the order they subscribed;
   * `previous` is the document and board that were live before.
   */
  replaced: { doc: Y.Doc; board: TaskBoard; generation: Generation; name: string; previous: { doc: Y.Doc; board: TaskBoard } };
};

export class LiveDocument extends TypedEmitter<LiveDocumentEvents> {
  private current: { doc: Y.Doc; board: TaskBoard };
  private gen: Generation = GENESIS;

  constructor(doc: Y.Doc, board: TaskBoard) {
    super();
    this.current = { doc, board };
  }

  /** The live Yjs document (a new object after each 'replaced'). */
  get doc(): Y.Doc {
    return this.current.doc;
  }

  /** The typed board over the live document (replaced with it). */
  get board(): TaskBoard {
    return this.current.board;
  }

  /** The live document's generation. */
  get generation(): Generation {
    return this.gen;
  }

  /** The generation's wire name (see `generationName`). */
  get name(): string {
    return generationName(this.gen);
  }

  /** Records the generation the document turned out to hold once storage was replayed into it. */
  loaded(g: Generation): void {
    this.gen = g;
  }

  /** Makes `doc` (with its board) the live document of generation `g` and tells every listener. */
  replace(doc: Y.Doc, board: TaskBoard, g: Generation): void {
    const previous = this.current;
    this.current = { doc, board };
    this.gen = g;
    this.emit('replaced', { doc, board, generation: g, name: generationName(g), previous });
  }

  /** Drops every listener (the peer stopped). */
  close(): void {
    this.removeAllListeners();
  }
}
