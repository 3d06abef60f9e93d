// How long a pull waits for its answer before the same diff is asked of another peer
// (packages/peer/src/sync/pulls.ts): its timeout, plus the time this process's own loop was busy
// meanwhile (Clock.busyMs), at most 2 s more. A peer blocked by a heal's apply used to find its
// timer due the moment it was free again and ask a second peer for the same megabytes.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { systemClock } from '../src/clock.js';
import { Pulls } from '../src/sync/pulls.js';
import { ManualClock } from './manual-clock.js';

/** Pulls with two connected peers, B and C, both announcing what this (empty) replica lacks. */
function setup(tellsBusy: boolean) {
  const clock = new ManualClock({ tellsBusy });
  const sent: { peer: string; at: number }[] = [];
  // What B and C hold: client 7 up to clock 100.
  const theirs = new Y.Doc();
  theirs.clientID = 7;
  theirs.getText('t').insert(0, 'x'.repeat(100));
  const local = new Y.Doc();
  /** The answer arrives and is applied. */
  const answer = (peer: string) => {
    pulls.answered(peer, clock.now());
    Y.applyUpdate(local, Y.encodeStateAsUpdate(theirs));
    pulls.afterAnswer();
  };
  const pulls = new Pulls({
    clock,
    batchMs: 5,
    repairMs: 1000,
    connectedPeers: () => ['B', 'C'],
    doc: () => local,
    sendPull: (peer) => sent.push({ peer, at: clock.now() }),
    stats: { repairs: 0, pulls: 0 },
  });
  for (const p of ['B', 'C']) {
    pulls.connected(p);
    pulls.announce(p, Y.decodeStateVector(Y.encodeStateVector(theirs)), clock.now(), true);
  }
  pulls.maybePull();
  return { clock, sent, pulls, answer };
}

describe('a pull waits for its answer', () => {
  it('asks a second peer once the timeout passes (a clock that cannot tell busy time: the simulator)', () => {
    const { clock, sent, pulls } = setup(false);
    expect(sent.map((s) => s.peer)).toHaveLength(1);
    clock.block(400); // the loop was blocked, but this clock cannot say so
    pulls.maybePull(); // what an announcement arriving does
    expect(sent).toHaveLength(2);
    expect(sent[1]!.peer).not.toBe(sent[0]!.peer);
  });

  it('does not count the time its own loop was blocked', () => {
    const { clock, sent, pulls, answer } = setup(true);
    expect(sent).toHaveLength(1);
    clock.block(400);
    pulls.maybePull(); // what an announcement arriving does
    clock.advance(1);
    expect(sent).toHaveLength(1);
    // The answer was waiting in the socket: read now, no second pull.
    answer(sent[0]!.peer);
    clock.advance(5000);
    pulls.maybePull();
    expect(sent).toHaveLength(1);
  });

  it('asks elsewhere once it has waited its timeout of idle time', () => {
    const { clock, sent, pulls } = setup(true);
    const t0 = sent[0]!.at;
    clock.block(400);
    pulls.maybePull();
    clock.advance(100);
    expect(sent).toHaveLength(1);
    clock.advance(60); // 150 ms of idle time have passed now
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at - t0).toBeGreaterThanOrEqual(550);
    expect(sent[1]!.at - t0).toBeLessThan(600);
  });

  it('gives at most 2 s for busy time', () => {
    const { clock, sent, pulls } = setup(true);
    const t0 = sent[0]!.at;
    clock.block(10_000);
    pulls.maybePull();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at - t0).toBe(10_000);
    const again = setup(true);
    again.clock.block(1_000);
    again.pulls.maybePull();
    again.clock.advance(1);
    expect(again.sent).toHaveLength(1);
    again.clock.busy += 5_000; // busy, yet time barely moved: the cap is on the credit
    again.clock.advance(1_200);
    expect(again.sent).toHaveLength(2);
    expect(again.sent[1]!.at - again.sent[0]!.at).toBeLessThanOrEqual(1_000 + 150 + 2_000);
  });
});

describe('a pull whose answer is arriving', () => {
  it('waits while the pulled peer sends something big, and asks elsewhere once that stops', () => {
    const { clock, sent, pulls } = setup(false);
    const first = sent[0]!.peer;
    const other = first === 'B' ? 'C' : 'B';
    clock.advance(100);
    pulls.receiving(other, clock.now()); // the other peer's big message says nothing of this pull
    pulls.receiving(first, clock.now());
    clock.advance(300); // past the 150 ms timeout
    pulls.maybePull();
    expect(sent).toHaveLength(1);
    clock.advance(500);
    pulls.receiving(first, clock.now()); // more of it
    clock.advance(900);
    pulls.maybePull();
    expect(sent).toHaveLength(1);
    clock.advance(150); // 1 s since the last piece: the answer stalled, ask the other peer
    pulls.maybePull();
    expect(sent.map((s) => s.peer)).toEqual([first, other]);
  });

  it('does not hold a pull for a big message from a peer it did not ask', () => {
    const { clock, sent, pulls } = setup(false);
    const other = sent[0]!.peer === 'B' ? 'C' : 'B';
    pulls.receiving(other, clock.now());
    clock.advance(200);
    pulls.maybePull();
    expect(sent).toHaveLength(2);
  });
});

describe('the system clock', () => {
  it("tells its loop's busy time in Node, and it grows while the loop works", () => {
    expect(typeof systemClock.busyMs).toBe('function');
    const a = systemClock.busyMs!();
    const end = Date.now() + 30;
    while (Date.now() < end) {
      /* busy */
    }
    expect(systemClock.busyMs!() - a).toBeGreaterThanOrEqual(25);
  });
});
