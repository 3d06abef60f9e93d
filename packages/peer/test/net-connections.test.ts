// The dialling part of the libp2p transport (net/connections.ts) on a virtual clock with a fake
// node: bootstrap redials follow the one backoff (1 s doubling to 5 s), a connection that dies
// young counts as a failed dial, a lost peer is redialled for 30 s, and connect/disconnect events
// come once per peer, and of two peers that learn of each other from a neighbour only the smaller id
// dials at once. No sockets, no wall-clock waits.
import { describe, expect, it } from 'vitest';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { ManualClock } from './manual-clock.js';
import { silentLogger } from '../src/logger.js';
import { peerOfAddr } from '../src/net/address-book.js';
import { connections } from '../src/net/connections.js';
import { MeshLog } from '../src/net/mesh-log.js';
import { PartitionGater } from '../src/net/partition-gater.js';
import { emptyStats, type MeshNode } from '../src/net/service.js';

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

const LOCAL = '12D3KooWGRUVh7fTnH9Kqe6CqYzq6j6ZsVYVwBXwvbcRp2bC9ggN';
const BOOT = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';

/** The part of a libp2p node the dialler uses; dials fail unless `accept` is set. */
class FakeNode extends EventTarget {
  dials: number[] = [];
  /** The peer id each dial went to. */
  dialled: string[] = [];
  accept = false;
  constructor(private readonly clock: ManualClock) {
    super();
  }
  dial(addrs: Multiaddr[]): Promise<void> {
    this.dials.push(this.clock.now());
    this.dialled.push(addrs[0] ? (peerOfAddr(addrs[0]) ?? '') : '');
    return this.accept ? Promise.resolve() : Promise.reject(new Error('connection refused'));
  }
  hangUp(): Promise<void> {
    return Promise.resolve();
  }
  fire(type: 'peer:connect' | 'peer:disconnect', id: string): void {
    this.dispatchEvent(new CustomEvent(type, { detail: peerIdFromString(id) }));
  }
}

function setup(accept = false) {
  const clock = new ManualClock({ start: 0 });
  const node = new FakeNode(clock);
  node.accept = accept;
  const c = connections({ bootstrap: [multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${BOOT}`)] })({
    node: node as unknown as MeshNode,
    clock,
    log: new MeshLog(silentLogger, clock),
    stats: emptyStats(),
    localId: LOCAL,
    gater: new PartitionGater(),
  });
  const events: string[] = [];
  c.on('connect', (id) => events.push(`+${id === BOOT ? 'boot' : id}`));
  c.on('disconnect', (id) => events.push(`-${id === BOOT ? 'boot' : id}`));
  c.start();
  c.afterStart();
  return { clock, node, c, events };
}

describe('connections on a virtual clock', () => {
  it('redials a bootstrap peer with the backoff: 1 s, 2 s, 4 s, then every 5 s', async () => {
    const { clock, node, c } = setup();
    await clock.advanceAsync(20_000, settle);
    // Dial at 0; each retry on the first 250 ms tick at or after the backoff's end.
    expect(node.dials).toEqual([0, 1_000, 3_000, 7_000, 12_000, 17_000]);
    c.stop();
    await clock.advanceAsync(10_000, settle);
    expect(node.dials).toHaveLength(6);
  });

  it('counts a connection that dies within 2 s as a failed dial, and redials a lost stable one', async () => {
    const { clock, node, c, events } = setup(true);
    await clock.advanceAsync(0, settle);
    expect(node.dials).toEqual([0]);
    node.fire('peer:connect', BOOT);
    node.fire('peer:connect', BOOT); // libp2p may say it twice: one event
    expect(c.peers()).toEqual([BOOT]);
    await clock.advanceAsync(500, settle);
    node.fire('peer:disconnect', BOOT); // died young: backoff 1 s
    await clock.advanceAsync(999, settle);
    expect(node.dials).toEqual([0]);
    await clock.advanceAsync(1, settle);
    expect(node.dials).toEqual([0, 1_500]);
    node.fire('peer:connect', BOOT);
    await clock.advanceAsync(3_000, settle);
    node.fire('peer:disconnect', BOOT); // stable: no backoff, redialled on the next tick
    await clock.advanceAsync(250, settle);
    expect(node.dials).toEqual([0, 1_500, 4_750]);
    expect(events).toEqual(['+boot', '-boot', '+boot', '-boot']);
    c.stop();
  });

  it('dials a peer learned from a neighbour at once if our id is smaller, else after 500 ms unless it dialled us', async () => {
    const SMALLER = '12D3KooWAZd56r6PH2iaB9MZ6Kmk79cdYhvLp6M9FH6preKEAu73';
    const LARGER = '12D3KooWQrQuDnefW1eATBYR6n6YM2ts9hJUFr9Nks3cTVGeYuSB';
    const SMALLER2 = '12D3KooWFEigSaSdbEGyGgcUfLyMjJ2sL1caAvwhq1LHrykgsKs7';
    expect(SMALLER < LOCAL && SMALLER2 < LOCAL && LARGER > LOCAL).toBe(true);
    const { clock, node, c } = setup(true);
    await clock.advanceAsync(0, settle);
    node.fire('peer:connect', BOOT);
    for (const [i, id] of [SMALLER, LARGER, SMALLER2].entries()) c.addresses.remember(id, [`/ip4/127.0.0.1/tcp/${4002 + i}/p2p/${id}`]);
    const learned = () => node.dialled.filter((id) => id !== BOOT);
    c.dialLearned(LARGER);
    c.dialLearned(SMALLER);
    c.dialLearned(SMALLER2);
    await clock.advanceAsync(0, settle);
    expect(learned()).toEqual([LARGER]); // the larger ids are left to dial us
    node.fire('peer:connect', SMALLER2); // it did
    await clock.advanceAsync(499, settle);
    expect(learned()).toEqual([LARGER]);
    await clock.advanceAsync(1, settle);
    expect(learned()).toEqual([LARGER, SMALLER]); // it did not: we dial after all
    expect(node.dials.at(-1)).toBe(500);
    await clock.advanceAsync(5_000, settle);
    expect(learned()).toEqual([LARGER, SMALLER]);
    c.stop();
  });
});
