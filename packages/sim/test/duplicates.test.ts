// The duplicate-run ledger judges each run start exactly as the README says ("When a duplicate run
// is justified"): driven here by hand over a tiny network whose cuts and crashes the test sets.
import { describe, expect, it } from 'vitest';
import { Reachability, RunLedger, describeDuplicate } from '../src/index.js';

function world(ids = ['a', 'b', 'c']) {
  let t = 0;
  const up = new Set(ids);
  const blocked = new Set<string>();
  const reach = new Reachability(ids, { isUp: (id) => up.has(id), canSend: (x, y) => x !== y && up.has(x) && up.has(y) && !blocked.has(`${x}>${y}`) }, () => t);
  reach.update();
  const ledger = new RunLedger(reach, ids, 1500);
  return {
    ledger,
    reach,
    at(time: number) {
      t = time;
      return this;
    },
    block(...links: [string, string][]) {
      for (const [x, y] of links) blocked.add(`${x}>${y}`);
      reach.update();
    },
    heal() {
      blocked.clear();
      reach.update();
    },
    crash(id: string) {
      up.delete(id);
      ledger.crashed(id, t);
      reach.update();
    },
    restart(id: string) {
      up.add(id);
      reach.update();
    },
    start(peer: string, round: number) {
      ledger.start(peer, 1, 'T', round, t);
    },
    end(peer: string, round: number, outcome: 'done' | 'failed' | 'aborted') {
      ledger.end(peer, 'T', round, outcome, t);
    },
  };
}

describe('the duplicate-run ledger', () => {
  it('a run started at the very instant a cut healed is excused by it (its peer had no time to hear from across); one started a moment later is not', () => {
    for (const [startAt, cause] of [[1000, 'partition'], [1001, 'unjustified']] as const) {
      const w = world();
      w.at(0).block(['a', 'b'], ['b', 'a'], ['a', 'c'], ['c', 'a']);
      w.at(1000).heal();
      w.at(startAt).start('a', 2);
      w.at(startAt + 5).end('a', 2, 'aborted');
      w.at(1300).start('b', 2);
      expect(w.ledger.duplicates.map((d) => d.cause)).toEqual([cause]);
    }
  });

  it('a peer down when an outcome was written gets its time to learn it from when it is back: cut off then, its rerun is justified; connected, it is not', () => {
    const cutOff = world();
    cutOff.at(0).start('a', 1);
    cutOff.at(50).crash('b');
    cutOff.at(100).end('a', 1, 'done');
    cutOff.at(3000).block(['a', 'b'], ['b', 'a'], ['c', 'b'], ['b', 'c']);
    cutOff.at(3100).restart('b');
    cutOff.at(4000).start('b', 2);
    expect(cutOff.ledger.duplicates.map((d) => d.cause)).toEqual(['partition']);

    const connected = world();
    connected.at(0).start('a', 1);
    connected.at(50).crash('b');
    connected.at(100).end('a', 1, 'done');
    connected.at(3100).restart('b');
    connected.at(5000).block(['a', 'b'], ['b', 'a'], ['c', 'b'], ['b', 'c']);
    connected.at(5100).start('b', 2);
    expect(connected.ledger.duplicates.map((d) => [d.cause, d.kind])).toEqual([['unjustified', 'outcome-unseen']]);
  });

  it('a retry after a failure is no duplicate', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(50).end('a', 1, 'failed');
    w.at(100).start('b', 2);
    w.at(150).end('b', 2, 'done');
    expect(w.ledger.duplicates).toEqual([]);
    expect(w.ledger.starts).toBe(2);
  });

  it('two winners of one round, connected and alive: unjustified, and the problem line names task, peers, rounds, times', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(100).start('b', 1);
    expect(w.ledger.causes).toEqual({ partition: 0, crash: 0, unjustified: 1 });
    expect(w.ledger.kinds['same-round']).toBe(1);
    const line = describeDuplicate(w.ledger.duplicates[0]!);
    expect(line).toMatch(/unjustified duplicate run \(same-round\) of task T: b started round 1 at t=100 ms while a's run of round 1 \(started t=0 ms\) was still running, a up and connected to b throughout/);
  });

  it('the earlier runner crashed: crash; the same peer again after its restart: crash too', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(50).crash('a');
    w.at(2000).start('b', 2);
    expect(w.ledger.duplicates.map((d) => d.cause)).toEqual(['crash']);
    const v = world();
    v.at(0).start('a', 1);
    v.at(10).crash('a');
    v.at(20).restart('a');
    v.at(1600).start('a', 1);
    expect(v.ledger.duplicates.map((d) => d.cause)).toEqual(['crash']);
  });

  it('cut off (no directed path, one way is enough) at some moment of the earlier run: partition', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(10).block(['a', 'b'], ['a', 'c']); // a reaches nobody; b and c still reach a
    w.at(20).heal();
    w.at(40).end('a', 1, 'done');
    w.at(1000).start('b', 2);
    expect(w.ledger.duplicates.map((d) => d.cause)).toEqual(['partition']);
  });

  it('a blocked link with a path around it through a third peer is no cut', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(10).block(['a', 'b'], ['b', 'a']); // c relays both ways
    w.at(100).start('b', 1);
    expect(w.ledger.duplicates.map((d) => [d.cause, d.kind])).toEqual([['unjustified', 'same-round']]);
  });

  it('an outcome that had a lease to settle is not excused by a later cut', () => {
    const w = world(['a', 'b']);
    w.at(0).start('a', 1);
    w.at(50).end('a', 1, 'done');
    w.at(3000).block(['a', 'b'], ['b', 'a']);
    w.at(3100).start('b', 2);
    expect(w.ledger.duplicates.map((d) => [d.cause, d.kind])).toEqual([['unjustified', 'outcome-unseen']]);
  });

  it('the later runner being down is no excuse (it must learn the task again when it comes back)', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(10).crash('b');
    w.at(20).restart('b');
    w.at(100).start('b', 1);
    expect(w.ledger.causes.unjustified).toBe(1);
  });

  it('the loser of a race holds nothing once the winner failed: the retry is no second duplicate', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(0).start('b', 1);
    w.at(7).end('b', 1, 'aborted');
    w.at(40).end('a', 1, 'failed');
    w.at(200).start('a', 2);
    expect(w.ledger.duplicates.length).toBe(1);
  });

  it('a run cut short while its peer was alive and connected holds the task for the next start', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(10).end('a', 1, 'aborted');
    w.at(500).start('b', 2);
    w.at(900).start('c', 3);
    expect(w.ledger.duplicates.map((d) => [d.cause, d.kind])).toEqual([['unjustified', 'lease-expired-while-alive'], ['unjustified', 'lease-expired-while-alive']]);
    expect(w.ledger.duplicates[1]!.against.peer).toBe('b');
  });

  it('a peer behind on the task runs an older round: stale-round', () => {
    const w = world();
    w.at(0).start('a', 1);
    w.at(30).end('a', 1, 'failed');
    w.at(100).start('a', 2);
    w.at(120).start('b', 1);
    expect(w.ledger.duplicates.map((d) => d.kind)).toEqual(['stale-round']);
  });

  it('records the network and crash state at each start', () => {
    const w = world();
    w.at(5).crash('c');
    w.at(6).block(['a', 'b']);
    w.at(10).start('b', 1);
    const [run] = w.ledger.runsOf('T');
    expect(run).toMatchObject({ peer: 'b', round: 1, start: 10, down: ['c'], unreachableFrom: ['a'], unreachableTo: [] });
  });
});
