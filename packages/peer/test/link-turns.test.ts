// Links take turns above 16 (sync/link-turns.ts). Heartbeats: each beat reaches about 16 links,
// each link hears every few beats, and a beat that asks for acknowledgements still reaches every
// link. Anti-entropy notices: 8 links a round. Up to 16 links every message reaches every link
// (the simulator's meshes are that small: its output is unchanged).
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Presence } from '../src/peer/presence.js';
import { noticeTurn, presenceTurn } from '../src/sync/link-turns.js';
import type { PeerContext } from '../src/peer/context.js';
import type { SyncEngine } from '../src/sync/engine.js';

/** A Presence over fakes: an engine linked to `n` peers that records where each beat went. */
function presence(n: number): { p: Presence; sends: (string | undefined)[][]; all: (string | undefined)[]; beat: (to?: string) => void } {
  const peers = Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, '0')}`);
  const doc = new Y.Doc();
  let current: (string | undefined)[] = [];
  const all: (string | undefined)[] = [];
  const sync = {
    on: () => () => {},
    connectedPeers: () => peers,
    sendEphemeral: (_d: Uint8Array, to?: string) => {
      current.push(to);
      all.push(to);
    },
  } as unknown as SyncEngine;
  const ctx = {
    id: 'me',
    clock: { now: () => 1000 },
    timing: { lease: { leaseMs: 3000, graceMs: 1000 } },
    board: () => ({ doc }),
    stopped: () => false,
    quiet: () => false,
    log: { log: () => {} },
  } as unknown as PeerContext;
  const p = new Presence(ctx, sync, () => ({ load: 0, running: 0, done: 0, dataWrites: 0, generation: 'g', durableSV: Y.encodeStateVector(doc) }));
  const sends: (string | undefined)[][] = [];
  return {
    p,
    sends,
    all,
    beat: (to) => {
      current = [];
      p.beat(to);
      sends.push(current);
    },
  };
}

describe('presence turns', () => {
  it('up to 16 links every beat goes to all of them, in one send', () => {
    const { sends, beat } = presence(16);
    for (let i = 0; i < 3; i++) beat();
    for (const s of sends) expect(s).toEqual([undefined]);
    expect(presenceTurn(Array.from({ length: 16 }, (_, i) => `p${i}`), 5)).toBeUndefined();
  });

  it('above 16 links each beat reaches half of 30 links, and two beats reach all of them', () => {
    const { sends, beat } = presence(30);
    for (let i = 0; i < 6; i++) beat();
    for (const s of sends) expect(new Set(s).size).toBe(15);
    for (let k = 0; k + 2 <= sends.length; k++) expect(new Set(sends.slice(k, k + 2).flat()).size).toBe(30);
  });

  it('at 40 links a beat reaches 14 or 13 of them and three beats reach all', () => {
    const peers = Array.from({ length: 40 }, (_, i) => `q${i}`);
    const beats = [0, 1, 2].map((t) => presenceTurn(peers, t)!);
    expect(beats.map((b) => b.length)).toEqual([14, 13, 13]);
    expect(new Set(beats.flat()).size).toBe(40);
  });

  it('a beat that carries a new request for acknowledgements, and a beat to one peer, are not thinned', () => {
    const { p, sends, beat } = presence(30);
    p.requestAck(7, 3);
    beat(); // a heartbeat repeating the request takes its turn
    expect(new Set(sends.at(-1)).size).toBe(15);
    const q = presence(30);
    q.p.requestAck(7, 3);
    q.p.tickAcks(); // the new request itself reaches every link at once, in one send
    q.p.tickAcks(); // and only once
    expect(q.all).toEqual([undefined]);
    p.clearAck();
    beat('p04');
    expect(sends.at(-1)).toEqual(['p04']);
  });
});

describe('notice turns', () => {
  it('up to 16 links every round notifies every link', () => {
    const peers = Array.from({ length: 16 }, (_, i) => `p${i}`);
    for (const t of [0, 1, 7]) expect(noticeTurn(peers, t).every(([, on]) => on)).toBe(true);
  });

  it('at 30 links a round notifies 8 of them, and four rounds reach all', () => {
    const peers = Array.from({ length: 30 }, (_, i) => `p${i}`);
    const rounds = [0, 1, 2, 3].map((t) => noticeTurn(peers, t).filter(([, on]) => on).map(([p]) => p));
    for (const r of rounds) expect(r.length).toBe(8);
    expect(new Set(rounds.flat()).size).toBe(30);
  });
});
