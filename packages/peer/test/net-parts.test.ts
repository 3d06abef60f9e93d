// The pure parts of the libp2p transport (packages/peer/src/net/), without a network: the one
// backoff formula, the partition gater's decisions, the address book's cap, the peer-exchange
// decoder, how libp2p error lines are read, the rate-limited warnings and the clock-driven timers.
import { describe, expect, it } from 'vitest';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { isMeshError } from '@agentmesh/scheduler';
import type { LogLevel } from '../src/logger.js';
import { DEFAULT_BACKOFF, backingOff, nextBackoff } from '../src/net/backoff.js';
import { PartitionGater } from '../src/net/partition-gater.js';
import { AddressBook, hostOfAddr, isWildcard, peerOfAddr } from '../src/net/address-book.js';
import { PX_MAX_PEERS, decodePeerList, encodePeerList } from '../src/net/peer-exchange.js';
import { classifyLibp2pLine, errNames, errText, isHandshakeFailure, refusalCause } from '../src/net/diagnostics.js';
import { MeshLog, WARN_INTERVAL_MS } from '../src/net/mesh-log.js';
import { deadline, every } from '../src/net/timers.js';
import { validateOptions } from '../src/net/options.js';
import { generatePeerKey, peerIdOfKey } from '../src/net/keys.js';
import { ManualClock } from './manual-clock.js';

// Fixed, valid peer ids (Ed25519 identity multihashes).
const A = '12D3KooWGRUVh7fTnH9Kqe6CqYzq6j6ZsVYVwBXwvbcRp2bC9ggN';
const B = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
const C = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';

describe('backoff', () => {
  it('starts at 1 s, doubles, stops at 5 s', () => {
    let b = nextBackoff(undefined, 100);
    const delays = [b.delay];
    expect(b.nextAt).toBe(1_100);
    for (let i = 0; i < 5; i++) {
      b = nextBackoff(b, 200);
      delays.push(b.delay);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    expect(b.nextAt).toBe(5_200);
    expect(DEFAULT_BACKOFF).toEqual({ minMs: 1_000, maxMs: 5_000 });
    expect(nextBackoff({ delay: 300, nextAt: 0 }, 0, { minMs: 100, maxMs: 500 }).delay).toBe(500);
  });

  it('holds a dial back until nextAt', () => {
    const b = nextBackoff(undefined, 0);
    expect(backingOff(undefined, 0)).toBe(false);
    expect(backingOff(b, 999)).toBe(true);
    expect(backingOff(b, 1_000)).toBe(false);
  });
});

describe('partition gater', () => {
  it('denies dials, connections and gossip of blocked peers only', () => {
    const shared = new Set<string>();
    const g = new PartitionGater(shared);
    const cg = new PartitionGater(shared).connectionGater();
    g.block(A);
    expect(g.has(A)).toBe(true);
    expect(g.list()).toEqual([A]);
    expect(cg.denyDialPeer!(peerIdFromString(A))).toBe(true);
    expect(cg.denyDialPeer!(peerIdFromString(B))).toBe(false);
    expect(cg.denyInboundEncryptedConnection!(peerIdFromString(A))).toBe(true);
    expect(cg.denyOutboundEncryptedConnection!(peerIdFromString(B))).toBe(false);
    expect(cg.denyDialMultiaddr!(multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${A}`))).toBe(true);
    expect(cg.denyDialMultiaddr!(multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${B}`))).toBe(false);
    expect(cg.denyDialMultiaddr!(multiaddr('/ip4/127.0.0.1/tcp/1'))).toBe(false); // no peer named yet
    // Gossip: written by or relayed through a blocked peer.
    expect(g.refusesGossip(A, B)).toBe(true);
    expect(g.refusesGossip(B, A)).toBe(true);
    expect(g.refusesGossip(B, C)).toBe(false);
    expect(g.unblockAll()).toEqual([A]);
    expect(g.list()).toEqual([]);
    expect(cg.denyDialPeer!(peerIdFromString(A))).toBe(false);
    expect(g.refusesGossip(A, B)).toBe(false);
  });
});

describe('address book', () => {
  it('merges newest first, caps addresses per peer, replaces on identify', () => {
    const book = new AddressBook(() => false, { maxPeers: 10, maxAddrs: 3 });
    book.remember(A, ['/ip4/1.1.1.1/tcp/1']);
    book.remember(A, ['/ip4/1.1.1.1/tcp/2', '/ip4/1.1.1.1/tcp/1']);
    expect(book.get(A)).toEqual(['/ip4/1.1.1.1/tcp/2', '/ip4/1.1.1.1/tcp/1']);
    book.remember(A, ['/ip4/1.1.1.1/tcp/3', '/ip4/1.1.1.1/tcp/4']);
    expect(book.get(A)).toHaveLength(3);
    book.remember(A, ['/ip4/2.2.2.2/tcp/9'], true);
    expect(book.get(A)).toEqual(['/ip4/2.2.2.2/tcp/9']);
    book.remember(B, ['not a multiaddr', '/ip4/3.3.3.3/tcp/3']);
    expect(book.dialable(B).map(String)).toEqual(['/ip4/3.3.3.3/tcp/3']);
  });

  it('forgets the oldest peers beyond the cap, never a kept one', () => {
    const keep = new Set(['p0']);
    const book = new AddressBook((id) => keep.has(id), { maxPeers: 3, maxAddrs: 8 });
    for (let i = 0; i < 5; i++) book.remember(`p${i}`, [`/ip4/10.0.0.${i}/tcp/1`]);
    expect(book.size).toBe(3);
    expect(['p0', 'p1', 'p2', 'p3', 'p4'].filter((id) => book.has(id))).toEqual(['p0', 'p3', 'p4']);
  });

  it('reads peer ids, hosts and wildcards from addresses', () => {
    expect(peerOfAddr(multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${A}`))).toBe(A);
    expect(peerOfAddr(multiaddr('/ip4/127.0.0.1/tcp/1'))).toBeUndefined();
    expect(hostOfAddr('/ip4/10.1.2.3/tcp/5')).toBe('10.1.2.3');
    expect(hostOfAddr(undefined)).toBe('unknown');
    expect(hostOfAddr('garbage')).toBe('garbage');
    expect(isWildcard(multiaddr('/ip4/0.0.0.0/tcp/1'))).toBe(true);
    expect(isWildcard(multiaddr('/ip6/::/tcp/1'))).toBe(true);
    expect(isWildcard(multiaddr('/ip4/127.0.0.1/tcp/1'))).toBe(false);
  });
});

describe('peer exchange message', () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

  it('round-trips and keeps only usable entries and addresses', () => {
    const body = encodePeerList([{ id: B, addrs: [`/ip4/10.0.0.2/tcp/4/p2p/${B}`] }]);
    expect(JSON.parse(body)).toEqual({ v: 1, peers: [{ id: B, addrs: [`/ip4/10.0.0.2/tcp/4/p2p/${B}`] }] });
    const got = decodePeerList(
      enc({
        v: 1,
        peers: [
          { id: A, addrs: ['/ip4/10.0.0.1/tcp/1'] }, // ourselves
          { id: 'not-a-peer', addrs: ['/ip4/10.0.0.9/tcp/1'] },
          { id: B, addrs: ['/ip4/10.0.0.2/tcp/2', `/ip4/10.0.0.2/tcp/3/p2p/${C}`, '/ip4/0.0.0.0/tcp/4', 'junk', 7] },
          { id: C, addrs: ['/ip4/0.0.0.0/tcp/1'] }, // nothing usable
          { id: C, addrs: 'nope' },
        ],
      }),
      A,
    );
    expect(got).toEqual([{ id: B, addrs: [`/ip4/10.0.0.2/tcp/2/p2p/${B}`] }]);
  });

  it('reads at most 64 peers and 8 addresses each; undecodable is undefined, other shapes empty', () => {
    const addrs = Array.from({ length: 12 }, (_, i) => `/ip4/10.0.1.${i}/tcp/1`);
    expect(decodePeerList(enc({ peers: [{ id: B, addrs }] }), A)![0]!.addrs).toHaveLength(8);
    const many = Array.from({ length: PX_MAX_PEERS + 5 }, () => ({ id: B, addrs: ['/ip4/10.0.0.2/tcp/2'] }));
    expect(decodePeerList(enc({ peers: many }), A)).toHaveLength(PX_MAX_PEERS);
    expect(decodePeerList(new TextEncoder().encode('{nope'), A)).toBeUndefined();
    expect(decodePeerList(enc({ peers: 3 }), A)).toEqual([]);
    expect(decodePeerList(enc(null), A)).toEqual([]);
  });
});

describe('libp2p diagnostics', () => {
  it('reads refused inbound upgrades from libp2p error lines', () => {
    const err = new Error('bad');
    expect(classifyLibp2pLine('failed to upgrade %s connection from %s %a - %e', ['inbound', 'x', '/ip4/1.2.3.4/tcp/5', err])).toEqual({
      kind: 'inbound-refused',
      error: err,
      remote: '/ip4/1.2.3.4/tcp/5',
    });
    expect(classifyLibp2pLine('failed to upgrade %s connection', ['outbound'])).toMatchObject({ kind: 'other' });
    expect(classifyLibp2pLine('inbound connection upgrade failed - %e', [err])).toEqual({ kind: 'inbound-refused', error: err, remote: undefined });
    expect(classifyLibp2pLine('dial %s failed: %e', ['peer', err])).toEqual({ kind: 'other', text: 'dial peer failed: Error: bad' });
  });

  it('tells refusal causes apart, also inside AggregateErrors', () => {
    const named = (name: string) => Object.assign(new Error(name), { name });
    expect(refusalCause(named('MeshSecretMismatchError'))).toBe('secret');
    expect(refusalCause(new AggregateError([named('ConnectionInterceptedError')]))).toBe('blocked');
    expect(refusalCause(named('ConnectionDeniedError'))).toBe('limit');
    expect(refusalCause('weird')).toBe('handshake');
    expect(isHandshakeFailure(new AggregateError([named('InvalidCryptoExchangeError')]))).toBe(true);
    expect(isHandshakeFailure(named('TimeoutError'))).toBe(false);
    expect(errNames(new AggregateError([named('X')], 'all'))).toEqual(['AggregateError', 'X']);
    expect(errText(new AggregateError([named('X'), named('Y')]))).toBe('X: X; Y: Y');
    expect(errText(42)).toBe('42');
  });
});

describe('mesh log', () => {
  it('warns once per key and interval of the injected clock, the rest at debug; never throws', () => {
    const clock = new ManualClock();
    const lines: [LogLevel, string][] = [];
    const log = new MeshLog({ log: (level, msg) => lines.push([level, msg]) }, clock);
    log.warnOnce('k', 'm', {});
    log.warnOnce('k', 'm', {});
    log.warnOnce('other', 'm2', {});
    clock.advance(WARN_INTERVAL_MS);
    log.warnOnce('k', 'm', {});
    expect(lines.map((l) => l[0])).toEqual(['warn', 'debug', 'warn', 'warn']);
    const broken = new MeshLog(
      {
        log: () => {
          throw new Error('boom');
        },
      },
      clock,
    );
    expect(() => broken.warnOnce('k', 'm', {})).not.toThrow();
  });
});

describe('timers from the injected clock', () => {
  it('every() ticks at its period until cancelled', () => {
    const clock = new ManualClock();
    let n = 0;
    const cancel = every(clock, 250, () => n++);
    clock.advance(1_000);
    expect(n).toBe(4);
    cancel();
    clock.advance(1_000);
    expect(n).toBe(4);
    expect(clock.pending).toBe(0);
  });

  it('deadline() aborts with a TimeoutError after its time, or with the parent, and clears', () => {
    const clock = new ManualClock();
    const parent = new AbortController();
    const d = deadline(clock, 5_000, parent.signal);
    clock.advance(4_999);
    expect(d.signal.aborted).toBe(false);
    clock.advance(1);
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError');
    const d2 = deadline(clock, 5_000, parent.signal);
    parent.abort(new Error('closed'));
    expect((d2.signal.reason as Error).message).toBe('closed');
    d2.clear();
    expect(clock.pending).toBe(0);
  });
});

describe('transport options', () => {
  it('takes a Logger and a Clock, and says when the old log function is passed', async () => {
    const privateKey = await generatePeerKey();
    const base = { privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] };
    expect(validateOptions({ ...base, logger: { log: () => {} }, clock: new ManualClock() }).maxMessageBytes).toBe(64 * 1024 * 1024);
    const fails = (o: object) => {
      try {
        validateOptions({ ...base, ...o } as never);
      } catch (e) {
        return isMeshError(e, 'INVALID_ARGUMENT');
      }
      return false;
    };
    expect(fails({ log: () => {} })).toBe(true);
    expect(fails({ logger: () => {} })).toBe(true);
    expect(fails({ clock: { now: () => 0 } })).toBe(true);
    expect(fails({ bootstrap: [`/ip4/127.0.0.1/tcp/1/p2p/${peerIdOfKey(privateKey)}`] })).toBe(false);
  });
});
