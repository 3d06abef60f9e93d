// The libp2p transport over real loopback TCP: full mesh through one bootstrap peer (peer
// exchange), Yjs sync through SyncEngine incl. a late joiner, private networks (mesh secret),
// partitions with block/unblockAll, oversize frames, key persistence, and the framing decoder.
// Every node listens on 127.0.0.1 port 0, every wait is bounded, every node is stopped.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { isMeshError } from '@agentmesh/scheduler';
import { SyncEngine } from '../src/sync.js';
import { systemClock } from '../src/clock.js';
import {
  createMeshTransport,
  generatePeerKey,
  peerKeyFromBytes,
  peerKeyToBytes,
  type MeshTransport,
  type MeshTransportOptions,
} from '../src/net/libp2p-transport.js';
import { FrameDecoder, encodeFrame } from '../src/net/framing.js';
import { until } from './helpers.js';

type LogLine = { level: string; msg: string; fields?: Record<string, unknown> };

const open: MeshTransport[] = [];
const engines: SyncEngine[] = [];

afterEach(async () => {
  for (const e of engines.splice(0)) e.stop(false);
  await Promise.all(open.splice(0).map((t) => t.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function node(opts: Partial<MeshTransportOptions> = {}): Promise<{ t: MeshTransport; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const t = await createMeshTransport({
    privateKey: opts.privateKey ?? (await generatePeerKey()),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    logger: { log: (level, msg, fields) => logs.push({ level, msg, fields }) },
    ...opts,
  });
  open.push(t);
  return { t, logs };
}

function sync(t: MeshTransport, doc = new Y.Doc()): { doc: Y.Doc; engine: SyncEngine; invalid: string[] } {
  const invalid: string[] = [];
  const engine = new SyncEngine(doc, t, {
    clock: systemClock,
    batchMs: 2,
    antiEntropyMs: 500,
    repairMs: 30,
    maxMessageBytes: 64 << 20,
  });
  engine.on('invalid', ({ reason }) => invalid.push(reason));
  engine.start();
  engines.push(engine);
  return { doc, engine, invalid };
}

const text = (s: string) => new TextEncoder().encode(s);
/** Timings, printed only with AGENTMESH_TEST_TIMINGS=1. */
const timing = (line: string) => {
  if (process.env.AGENTMESH_TEST_TIMINGS) console.info(`[libp2p-transport] ${line}`);
};

describe('libp2p mesh transport', () => {
  it('forms a full mesh through one bootstrap peer (peer exchange)', async () => {
    const t0 = Date.now();
    const { t: a } = await node();
    const startMs = Date.now() - t0;
    const boot = a.multiaddrs();
    expect(boot.length).toBeGreaterThan(0);
    expect(boot.every((m) => m.startsWith('/ip4/127.0.0.1/tcp/') && m.endsWith(`/p2p/${a.localId}`))).toBe(true);
    const { t: b } = await node({ bootstrap: boot });
    const { t: c } = await node({ bootstrap: boot });
    const meshMs = await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 5_000, 'full mesh');
    expect(new Set(b.connectedPeers())).toEqual(new Set([a.localId, c.localId]));
    expect(new Set(c.connectedPeers())).toEqual(new Set([a.localId, b.localId]));
    timing(`start ${startMs} ms, full mesh of 3 ${meshMs} ms after the joiners started`);

    // connect/disconnect events: once per peer.
    const events: string[] = [];
    a.setHandlers({ message: () => {}, connect: (p) => events.push(`+${p}`), disconnect: (p) => events.push(`-${p}`) });
    await c.close();
    await until(() => events.includes(`-${c.localId}`), 5_000, 'disconnect event');
    expect(events.filter((e) => e === `-${c.localId}`)).toHaveLength(1);
    expect(a.connectedPeers()).toEqual([b.localId]);
  });

  it('delivers direct and broadcast messages (gossipsub fan-out: gossipsub reaches subscribers)', async () => {
    const { t: a } = await node({ fanout: 'gossipsub' });
    const { t: b } = await node({ bootstrap: a.multiaddrs(), fanout: 'gossipsub' });
    const { t: c } = await node({ bootstrap: a.multiaddrs(), fanout: 'gossipsub' });
    await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 5_000, 'full mesh');
    const got: Record<string, string[]> = { a: [], b: [], c: [] };
    for (const [k, t] of [['a', a], ['b', b], ['c', c]] as const) {
      t.setHandlers({ message: (from, d) => got[k]!.push(`${from}:${new TextDecoder().decode(d)}`), connect: () => {}, disconnect: () => {} });
    }
    // gossipsub learns subscriptions shortly after a connection opens (until then broadcast falls
    // back to direct sends); wait until a probe arrives through gossipsub at both peers.
    const warm = Date.now();
    while (b.stats().gossipReceived === 0 || c.stats().gossipReceived === 0) {
      if (Date.now() - warm > 5_000) throw new Error('gossipsub never delivered');
      a.broadcast(text('probe'));
      await sleep(50);
    }
    const warmMs = Date.now() - warm;
    await sleep(50);
    for (const k of ['a', 'b', 'c']) got[k] = [];
    const before = { a: a.stats(), b: b.stats() };
    const t1 = Date.now();
    a.broadcast(text('hello'));
    const hello = (k: string) => got[k]!.filter((m) => m.endsWith(':hello'));
    await until(() => hello('b').length === 1 && hello('c').length === 1, 2_000, 'broadcast delivered');
    const bcastMs = Date.now() - t1;
    expect(hello('b')).toEqual([`${a.localId}:hello`]);
    expect(a.stats().gossipPublished - before.a.gossipPublished).toBe(1);
    expect(a.stats().directFallbacks - before.a.directFallbacks).toBe(0);
    expect(b.stats().gossipReceived - before.b.gossipReceived).toBe(1);

    // Direct: many messages in order on one stream.
    for (let i = 0; i < 200; i++) b.send(c.localId, text(`m${i}`));
    const direct = () => got.c!.filter((m) => m.startsWith(`${b.localId}:m`));
    await until(() => direct().length === 200, 3_000, 'direct messages');
    expect(direct()).toEqual(Array.from({ length: 200 }, (_, i) => `${b.localId}:m${i}`));
    expect(b.stats().streamsOpened).toBe(1);
    timing(`gossipsub delivering ${warmMs} ms after full mesh; broadcast to 2 peers in ${bcastMs} ms`);
  });

  it('syncs two Y.Docs through SyncEngine, and a late joiner catches up', async () => {
    const { t: a } = await node();
    const { t: b } = await node({ bootstrap: a.multiaddrs() });
    const sa = sync(a);
    const sb = sync(b);
    await until(() => a.connectedPeers().includes(b.localId), 5_000, 'a-b connected');
    sa.doc.getMap('m').set('from-a', 1);
    sb.doc.getMap('m').set('from-b', 2);
    const syncMs = await until(() => sa.doc.getMap('m').get('from-b') === 2 && sb.doc.getMap('m').get('from-a') === 1, 3_000, 'a<->b sync');
    for (let i = 0; i < 50; i++) sa.doc.getArray<number>('list').push([i]);
    await until(() => sb.doc.getArray('list').length === 50, 3_000, 'list on b');

    const t1 = Date.now();
    const { t: c } = await node({ bootstrap: a.multiaddrs() });
    const sc = sync(c);
    await until(
      () => sc.doc.getMap('m').get('from-a') === 1 && sc.doc.getMap('m').get('from-b') === 2 && sc.doc.getArray('list').length === 50,
      5_000,
      'late joiner catch-up',
    );
    const catchUpMs = Date.now() - t1;
    expect(sa.invalid.concat(sb.invalid, sc.invalid)).toEqual([]);
    timing(`two docs synced in ${syncMs} ms; late joiner caught up ${catchUpMs} ms after start`);
  });

  it('keeps peers without the same mesh secret out and logs the refusal', async () => {
    const { t: a, logs: la } = await node({ secret: 's1' });
    const { t: b, logs: lb } = await node({ secret: 's1', bootstrap: a.multiaddrs() });
    const sa = sync(a);
    const sb = sync(b);
    await until(() => a.connectedPeers().includes(b.localId), 5_000, 'a-b connected with the same secret');
    const { t: c, logs: lc } = await node({ secret: 's2', bootstrap: [...a.multiaddrs(), ...b.multiaddrs()] });
    const { t: d } = await node({ bootstrap: a.multiaddrs() }); // no secret at all
    const refusal = (l: LogLine) => l.level === 'warn' && l.msg.includes('handshake failed (wrong or missing mesh secret?)');
    // Both refusing peers say so, and so does the dialer with the other secret.
    await until(() => la.some(refusal) && lb.some(refusal) && lc.some(refusal), 3_000, 'refusal logged by a, b and c');
    expect(la.find(refusal)!.msg).toMatch(/^refused connection/);

    sa.doc.getMap('m').set('x', 'still syncing');
    await until(() => sb.doc.getMap('m').get('x') === 'still syncing', 3_000, 'a and b keep syncing');
    await sleep(1_200); // the outsiders keep retrying in the meantime
    for (const t of [a, b]) {
      expect(t.connectedPeers()).not.toContain(c.localId);
      expect(t.connectedPeers()).not.toContain(d.localId);
    }
    expect(c.connectedPeers()).toEqual([]);
    expect(d.connectedPeers()).toEqual([]);
    expect(a.stats().refusedConnections).toBeGreaterThan(0);
  });

  it('block() partitions two peers, unblockAll() heals and the blocked side catches up', async () => {
    const { t: a } = await node();
    const { t: b } = await node({ bootstrap: a.multiaddrs() });
    const { t: c } = await node({ bootstrap: a.multiaddrs() });
    await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 5_000, 'full mesh');
    const sa = sync(a);
    const sb = sync(b);
    // c only records what reaches it (no doc, so it cannot relay a's data to b).
    const atC: string[] = [];
    c.setHandlers({ message: (from) => atC.push(from), connect: () => {}, disconnect: () => {} });
    sa.doc.getMap('m').set('before', true);
    await until(() => sb.doc.getMap('m').get('before') === true, 3_000, 'initial sync');

    await Promise.all([a.block([b.localId]), b.block([a.localId])]);
    expect(a.blocked()).toEqual([b.localId]);
    expect(a.connectedPeers()).not.toContain(b.localId);
    expect(b.connectedPeers()).not.toContain(a.localId);
    const cBefore = atC.filter((f) => f === a.localId).length;
    sa.doc.getMap('m').set('during', true);
    await until(() => atC.filter((f) => f === a.localId).length > cBefore, 2_000, 'write on a reaches c');
    await sleep(600);
    expect(sb.doc.getMap('m').get('during')).toBeUndefined();
    expect(a.connectedPeers()).not.toContain(b.localId);
    expect(a.connectedPeers()).toContain(c.localId);

    a.unblockAll();
    b.unblockAll();
    expect(a.blocked()).toEqual([]);
    const healMs = await until(() => a.connectedPeers().includes(b.localId) && b.connectedPeers().includes(a.localId), 5_000, 'reconnect');
    await until(() => sb.doc.getMap('m').get('during') === true, 3_000, 'b catches up');
    timing(`reconnected ${healMs} ms after unblockAll`);
  });

  it('refuses a frame over maxMessageBytes without crashing the receiver', async () => {
    const { t: a } = await node();
    const { t: b, logs: lb } = await node({ bootstrap: a.multiaddrs(), maxMessageBytes: 64 * 1024 });
    await until(() => a.connectedPeers().includes(b.localId), 5_000, 'connected');
    const got: number[] = [];
    b.setHandlers({ message: (_f, d) => got.push(d.byteLength), connect: () => {}, disconnect: () => {} });
    a.send(b.localId, new Uint8Array(200 * 1024));
    await until(() => b.stats().rejectedFrames === 1, 3_000, 'frame rejected');
    expect(lb.some((l) => l.level === 'warn' && l.msg.includes('maxMessageBytes'))).toBe(true);
    expect(got).toEqual([]);
    // The sender reopens its stream; small messages flow again and the peers stay connected.
    await until(
      () => {
        if (got.length === 0) a.send(b.localId, text('small'));
        return got.length > 0;
      },
      3_000,
      'small message after reset',
    );
    expect(got[0]).toBe(5);
    expect(b.connectedPeers()).toContain(a.localId);
    // The receiver's own limit also stops it from sending an oversize message (dropped, no throw).
    const dropped = b.stats().dropped;
    expect(() => b.send(a.localId, new Uint8Array(100 * 1024))).not.toThrow();
    expect(b.stats().dropped).toBe(dropped + 1);
  });

  it('carries large messages with backpressure, and large broadcasts directly', async () => {
    const { t: a } = await node();
    const { t: b } = await node({ bootstrap: a.multiaddrs() });
    await until(() => a.connectedPeers().includes(b.localId), 5_000, 'connected');
    const got: Uint8Array[] = [];
    const progress: { from: string; received: number; bytes: number }[] = [];
    b.setHandlers({ message: (_f, d) => got.push(d), connect: () => {}, disconnect: () => {}, receiving: (from, received, bytes) => progress.push({ from, received, bytes }) });
    const big = Uint8Array.from({ length: 12 * 1024 * 1024 }, (_, i) => (i * 31) & 0xff);
    const t1 = Date.now();
    a.send(b.localId, big);
    a.send(b.localId, text('after'));
    a.broadcast(big.subarray(0, 3 * 1024 * 1024)); // over gossipsub's comfort zone: sent directly
    await until(() => got.length === 3, 10_000, 'large messages');
    const ms = Date.now() - t1;
    expect(got[0]!.byteLength).toBe(big.byteLength);
    expect(Buffer.from(got[0]!).equals(Buffer.from(big))).toBe(true);
    expect(new TextDecoder().decode(got[1])).toBe('after');
    expect(got[2]!.byteLength).toBe(3 * 1024 * 1024);
    expect(a.stats().gossipPublished).toBe(0);
    expect(a.stats().backpressureWaits).toBeGreaterThan(0);
    // The receiver heard the big messages coming, piece by piece, before each was whole.
    const of12 = progress.filter((p) => p.bytes === big.byteLength);
    expect(of12.length).toBeGreaterThan(1);
    expect(of12.every((p) => p.from === a.localId && p.received < p.bytes)).toBe(true);
    expect(of12.map((p) => p.received)).toEqual([...of12.map((p) => p.received)].sort((x, y) => x - y));
    expect(progress.every((p) => p.bytes >= 64 * 1024)).toBe(true);
    timing(`15 MiB over one direct stream in ${ms} ms`);
  });

  it('keeps the peer id across a restart with the persisted key', async () => {
    const key = await generatePeerKey();
    const bytes = peerKeyToBytes(key);
    const { t: a } = await node();
    const { t: b1 } = await node({ privateKey: key, bootstrap: a.multiaddrs() });
    const id = b1.localId;
    await until(() => a.connectedPeers().includes(id), 5_000, 'b1 connected');
    await b1.close();
    await until(() => !a.connectedPeers().includes(id), 5_000, 'b1 gone');
    const { t: b2 } = await node({ privateKey: peerKeyFromBytes(bytes), bootstrap: a.multiaddrs() });
    expect(b2.localId).toBe(id);
    await until(() => a.connectedPeers().includes(id), 5_000, 'b2 connected under the same id');
    expect(() => peerKeyFromBytes(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('validates options, never throws from send, and closes idempotently', async () => {
    const key = await generatePeerKey();
    const bad = async (o: Partial<MeshTransportOptions>) => {
      try {
        await createMeshTransport({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], ...o });
      } catch (e) {
        return e;
      }
      throw new Error('expected a failure');
    };
    expect(isMeshError(await bad({ bootstrap: ['/ip4/127.0.0.1/tcp/1'] }), 'INVALID_ARGUMENT')).toBe(true);
    expect(isMeshError(await bad({ bootstrap: ['not a multiaddr'] }), 'INVALID_ARGUMENT')).toBe(true);
    expect(isMeshError(await bad({ listen: ['nope'] }), 'INVALID_ARGUMENT')).toBe(true);
    expect(isMeshError(await bad({ maxMessageBytes: 0 }), 'INVALID_ARGUMENT')).toBe(true);
    expect(isMeshError(await bad({ secret: '' }), 'INVALID_ARGUMENT')).toBe(true);

    const { t } = await node({ privateKey: key });
    expect(() => t.send('not-a-peer', text('x'))).not.toThrow();
    await expect(t.block(['not-a-peer'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await Promise.all([t.close(), t.close()]);
    await t.close();
    expect(() => t.send('x', text('y'))).not.toThrow();
    expect(() => t.broadcast(text('y'))).not.toThrow();
    await expect(t.block([t.localId])).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('frame decoder', () => {
  it('reassembles frames from arbitrary chunking, including lists of buffers', () => {
    const msgs = [0, 1, 5, 127, 128, 300, 20_000, 70_000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));
    const wire = new Uint8Array(msgs.reduce((s, m) => s + encodeFrame(m).byteLength, 0));
    let o = 0;
    for (const m of msgs) {
      const f = encodeFrame(m);
      wire.set(f, o);
      o += f.byteLength;
    }
    for (const step of [1, 2, 3, 64, 1000, wire.byteLength]) {
      const out: Uint8Array[] = [];
      const dec = new FrameDecoder(1 << 20);
      for (let i = 0; i < wire.byteLength; i += step * 2) {
        // one plain chunk, then a "Uint8ArrayList" of two pieces
        dec.push(wire.subarray(i, i + step), (f) => out.push(f));
        const j = i + step;
        dec.push([wire.subarray(j, j + Math.ceil(step / 2)), wire.subarray(j + Math.ceil(step / 2), j + step)], (f) => out.push(f));
      }
      expect(out.map((m) => m.byteLength)).toEqual(msgs.map((m) => m.byteLength));
      out.forEach((m, i) => expect(Buffer.from(m).equals(Buffer.from(msgs[i]!))).toBe(true));
    }
  });

  it('tells the length of a frame under way and how much of it is in', () => {
    const dec = new FrameDecoder(1 << 20);
    const frame = encodeFrame(new Uint8Array(100_000).fill(7));
    const got: number[] = [];
    expect(dec.partialLength).toBe(0);
    dec.push(frame.subarray(0, 40_000), (f) => got.push(f.byteLength));
    expect(dec.partialLength).toBe(100_000);
    expect(dec.pendingBytes).toBe(40_000 - 3);
    dec.push(frame.subarray(40_000), (f) => got.push(f.byteLength));
    expect(got).toEqual([100_000]);
    expect(dec.partialLength).toBe(0);
  });

  it('refuses an oversize header before reading the body', () => {
    const dec = new FrameDecoder(1000);
    const header = encodeFrame(new Uint8Array(1001)).subarray(0, 2);
    expect(() => dec.push(header, () => {})).toThrow(/over the 1000-byte limit/);
    expect(() => new FrameDecoder(10).push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), () => {})).toThrow();
  });
});
