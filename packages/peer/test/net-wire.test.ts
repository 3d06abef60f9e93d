// The wire: direct fan-out delivers a broadcast to each peer once, and the wire meter counts what
// crossed (TCP bytes, and the frames on the sync streams); the message counter over split chunks;
// the unsigned gossip header. Real libp2p over loopback TCP, every node closed afterwards.
import { afterEach, describe, expect, it } from 'vitest';
import { createMeshTransport, generatePeerKey, type MeshTransport, type MeshTransportOptions } from '../src/net/libp2p-transport.js';
import { PrefixCounter } from '../src/net/wire-meter.js';
import { encodeHeader, headerLength } from '../src/net/gossip.js';
import { encodeFrame } from '../src/net/framing.js';
import { silentLogger } from '../src/logger.js';
import { until } from './helpers.js';

const open: MeshTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function node(opts: Partial<MeshTransportOptions> = {}): Promise<MeshTransport> {
  const t = await createMeshTransport({ privateKey: await generatePeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, ...opts });
  open.push(t);
  return t;
}

describe('wire', () => {
  it('counts length-prefixed messages however the bytes are split', () => {
    const frames = [new Uint8Array(0), new Uint8Array(5), new Uint8Array(200), new Uint8Array(70_000)].map((f) => encodeFrame(f));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0));
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.byteLength;
    }
    for (const step of [1, 2, 3, 7, 1000, all.byteLength]) {
      const c = new PrefixCounter();
      let n = 0;
      for (let i = 0; i < all.byteLength; i += step) n += c.count(all.subarray(i, i + step));
      expect(n).toBe(4);
    }
    const c = new PrefixCounter();
    expect(c.count([all.subarray(0, 3), all.subarray(3)])).toBe(4);
  });

  it('reads the origin and sequence header of unsigned gossip', () => {
    const origin = new TextEncoder().encode('12D3KooWExample');
    const h = encodeHeader(origin, 2 ** 50 + 3);
    const msg = new Uint8Array([...h, 9, 9, 9]);
    expect(headerLength(msg)).toBe(h.byteLength);
    expect(headerLength(new Uint8Array([5, 1, 2]))).toBe(0);
    expect(headerLength(undefined)).toBe(0);
  });

  it('direct fan-out: each broadcast reaches each peer once, and the wire counters see every copy', async () => {
    const a = await node();
    const b = await node({ bootstrap: a.multiaddrs() });
    const c = await node({ bootstrap: a.multiaddrs() });
    await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 10_000, 'full mesh');
    expect(a.fanout).toBe('direct');
    const got = { b: 0, c: 0 };
    b.setHandlers({ message: () => got.b++, connect: () => {}, disconnect: () => {} });
    c.setHandlers({ message: () => got.c++, connect: () => {}, disconnect: () => {} });
    const before = { a: a.wireStats(), b: b.wireStats() };
    for (let i = 0; i < 20; i++) a.broadcast(new Uint8Array(300).fill(i));
    await until(() => got.b === 20 && got.c === 20, 5_000, 'broadcasts delivered');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual({ b: 20, c: 20 });
    const after = { a: a.wireStats(), b: b.wireStats() };
    expect(after.a.sync.sentMessages - before.a.sync.sentMessages).toBe(40);
    expect(after.b.sync.receivedMessages - before.b.sync.receivedMessages).toBe(20);
    expect(after.a.sync.sentBytes - before.a.sync.sentBytes).toBe(40 * 302);
    // TCP carries the frames plus yamux and Noise framing.
    expect(after.a.sentBytes - before.a.sentBytes).toBeGreaterThan(40 * 302);
    expect(after.a.gossip.sentBytes).toBe(0);
    // Healthy links are never closed for silence (silent-links.ts).
    expect(after.a.silentClosed).toBe(0);
    const s = a.stats();
    expect(s.broadcasts).toBe(20);
    expect(s.wireSentBytes).toBe(a.wireStats().sentBytes);
    expect(s.wireSentMessages).toBeGreaterThanOrEqual(40);
    expect(s.wireReceivedBytes).toBeGreaterThan(0);
  });

  it('a receiver of many small messages sends next to nothing back: yamux grants credit per half window, not per frame', async () => {
    // @chainsafe/libp2p-yamux 8.0.1 answered every data frame with a window update (a 12-byte
    // frame in its own Noise record and TCP write): at 30 idle peers about 8% of the mesh's CPU.
    // patches/@chainsafe__libp2p-yamux@8.0.1.patch sends one once half the window is used, as
    // go-yamux and rust-yamux do. 200 messages of 100 B are far below half of the 256 KiB window.
    const a = await node();
    const b = await node({ bootstrap: a.multiaddrs() });
    await until(() => a.connectedPeers().length === 1 && b.connectedPeers().length === 1, 10_000, 'linked');
    let got = 0;
    b.setHandlers({ message: () => got++, connect: () => {}, disconnect: () => {} });
    a.send(b.localId, new Uint8Array(100)); // the stream is open before counting
    await until(() => got === 1, 5_000, 'first message');
    await new Promise((r) => setTimeout(r, 200));
    const before = b.wireStats().sentBytes;
    for (let i = 0; i < 200; i++) a.send(b.localId, new Uint8Array(100).fill(i));
    await until(() => got === 201, 5_000, 'messages delivered');
    await new Promise((r) => setTimeout(r, 200));
    // One window update per frame would be 200 x (12 + 16 + 2) = 6,000 bytes or more.
    expect(b.wireStats().sentBytes - before).toBeLessThan(1500);
  });

  it('gossipsub fan-out (unsigned): broadcasts arrive once with the origin as sender, and forwards are counted', async () => {
    const a = await node({ fanout: 'gossipsub' });
    const b = await node({ bootstrap: a.multiaddrs(), fanout: 'gossipsub' });
    const c = await node({ bootstrap: a.multiaddrs(), fanout: 'gossipsub' });
    await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 10_000, 'full mesh');
    const got: string[] = [];
    b.setHandlers({ message: (from, d) => got.push(`${from}:${d.byteLength}`), connect: () => {}, disconnect: () => {} });
    c.setHandlers({ message: () => {}, connect: () => {}, disconnect: () => {} });
    // Wait until gossipsub itself delivers (it learns subscriptions a moment after connecting).
    const warm = Date.now();
    while (b.stats().gossipReceived === 0 || c.stats().gossipReceived === 0) {
      if (Date.now() - warm > 8_000) throw new Error('gossipsub never delivered');
      a.broadcast(new Uint8Array(10));
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200));
    got.length = 0;
    const before = a.wireStats();
    a.broadcast(new Uint8Array(300));
    await until(() => got.length >= 1, 3_000, 'gossip delivered');
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([`${a.localId}:300`]);
    expect(a.wireStats().gossip.sentBytes - before.gossip.sentBytes).toBeGreaterThan(300);
  });
});
