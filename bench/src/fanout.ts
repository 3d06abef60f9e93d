// Why: issue 11 asks which fan-out delivers each update to each peer about once for the least CPU:
// direct streams (one framed send per peer) or gossipsub configured for an authenticated mesh, and
// what the configuration before issue 11 cost. This starts N real MeshTransports, each in its own
// child process (so CPU is each node's own process.cpuUsage), meshed over 127.0.0.1 through one
// bootstrap peer; after a warm-up every node broadcasts M messages of one size at a fixed rate,
// and every node reports what it received, when, and what its transport counted on the wire.
//
//   npm run fanout                                    # every fan-out, 3 and 15 peers, 300 B and 4 KiB
//   npm run fanout -- --fanouts direct --peers 3 --sizes 300 --rate 300 --seconds 4
//
// Printed per configuration: messages/s delivered per receiver, wire bytes (TCP, every copy and
// every protocol) per delivered message, CPU ms (all nodes) per delivered message, p50/p99
// delivery latency, and duplicates (copies handed to the receiver's handler beyond the first).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMeshTransport, generatePeerKey, FANOUTS, type Fanout, type MeshTransport } from '@agentmesh/peer/node';
import { installHandlers, log, track } from './procs.js';
import { percentile, round } from './stats.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const MAGIC = 0xb7;

// ---- child: one node ------------------------------------------------------------------------------

type ToChild =
  | { kind: 'start'; fanout: Fanout; bootstrap: string[]; index: number }
  | { kind: 'peers' }
  | { kind: 'run'; at: number; perSender: number; intervalMs: number; size: number; senders: number; deadline: number }
  | { kind: 'exit' };

interface ChildResult {
  index: number;
  received: number;
  duplicates: number;
  latencies: number[];
  firstAt: number;
  lastAt: number;
  cpuMs: number;
  wireSent: number;
  wireReceived: number;
  syncSent: number;
  gossipSent: number;
  frames: number;
  gossipReceived: number;
  gossipPublished: number;
  directFallbacks: number;
}

const nowMs = () => performance.timeOrigin + performance.now();

async function child(): Promise<void> {
  let t: MeshTransport | undefined;
  let onBench: ((from: string, data: Uint8Array) => void) | undefined;
  const send = (m: unknown) => process.send!(m);
  process.on('message', async (m: ToChild) => {
    if (m.kind === 'exit') {
      await t?.close();
      process.exit(0);
    }
    if (m.kind === 'peers') {
      send({ kind: 'peers', n: t?.connectedPeers().length ?? 0 });
      return;
    }
    if (m.kind === 'start') {
      t = await createMeshTransport({ privateKey: await generatePeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: m.bootstrap, fanout: m.fanout });
      t.setHandlers({ message: (from, data) => onBench?.(from, data), connect: () => {}, disconnect: () => {} });
      send({ kind: 'ready', addrs: t.multiaddrs(), id: t.localId });
      return;
    }
    if (m.kind === 'run') {
      const tr = t!;
      const expected = (m.senders - 1) * m.perSender;
      const seen = new Set<number>();
      const latencies: number[] = [];
      let duplicates = 0;
      let firstAt = 0;
      let lastAt = 0;
      let sentAll = false;
      let finished = false;
      let cpu0 = process.cpuUsage();
      let w0 = tr.wireStats();
      let s0 = tr.stats();
      const finish = () => {
        if (finished) return;
        finished = true;
        const cpu = process.cpuUsage(cpu0);
        const w = tr.wireStats();
        const s = tr.stats();
        const r: ChildResult = {
          index: 0,
          received: seen.size,
          duplicates,
          latencies,
          firstAt,
          lastAt,
          cpuMs: (cpu.user + cpu.system) / 1000,
          wireSent: w.sentBytes - w0.sentBytes,
          wireReceived: w.receivedBytes - w0.receivedBytes,
          syncSent: w.sync.sentBytes - w0.sync.sentBytes,
          gossipSent: w.gossip.sentBytes - w0.gossip.sentBytes,
          frames: w.sync.receivedMessages - w0.sync.receivedMessages,
          gossipReceived: s.gossipReceived - s0.gossipReceived,
          gossipPublished: s.gossipPublished - s0.gossipPublished,
          directFallbacks: s.directFallbacks - s0.directFallbacks,
        };
        send({ kind: 'result', result: r });
      };
      onBench = (_from, data) => {
        if (data.byteLength < 15 || data[0] !== MAGIC) return;
        const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
        const key = dv.getUint16(1) * 1_000_000 + dv.getUint32(3);
        const at = nowMs();
        if (seen.has(key)) {
          duplicates++;
          return;
        }
        seen.add(key);
        latencies.push(at - dv.getFloat64(7));
        if (firstAt === 0) firstAt = at;
        lastAt = at;
        if (sentAll && seen.size >= expected) setTimeout(finish, 200);
      };
      const index = Number(process.env.FANOUT_INDEX ?? 0);
      const wait = m.at - nowMs();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      cpu0 = process.cpuUsage();
      w0 = tr.wireStats();
      s0 = tr.stats();
      for (let i = 0; i < m.perSender; i++) {
        const due = m.at + i * m.intervalMs;
        const d = due - nowMs();
        if (d > 1) await new Promise((r) => setTimeout(r, d));
        const msg = new Uint8Array(m.size);
        msg.fill(i & 0xff);
        const dv = new DataView(msg.buffer);
        msg[0] = MAGIC;
        dv.setUint16(1, index);
        dv.setUint32(3, i);
        dv.setFloat64(7, nowMs());
        tr.broadcast(msg);
      }
      sentAll = true;
      if (seen.size >= expected) setTimeout(finish, 200);
      setTimeout(finish, Math.max(0, m.deadline - nowMs()));
    }
  });
  send({ kind: 'alive' });
}

// ---- parent: runs every configuration ------------------------------------------------------------

interface Args {
  fanouts: Fanout[];
  peers: number[];
  sizes: number[];
  rate: number;
  seconds: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { fanouts: [...FANOUTS], peers: [3, 15], sizes: [300, 4096], rate: 300, seconds: 4, out: join(HERE, '..', 'results', 'fanout.json') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    const list = () => String(v).split(',').filter(Boolean);
    if (k === '--fanouts') a.fanouts = list() as Fanout[];
    else if (k === '--peers') a.peers = list().map(Number);
    else if (k === '--sizes') a.sizes = list().map(Number);
    else if (k === '--rate') a.rate = Number(v);
    else if (k === '--seconds') a.seconds = Number(v);
    else if (k === '--out') a.out = String(v);
    else if (k === '--help') {
      process.stdout.write('fanout [--fanouts direct,gossipsub,gossipsub-signed] [--peers 3,15] [--sizes 300,4096] [--rate <broadcasts/s, whole mesh>] [--seconds 4] [--out file]\n');
      process.exit(0);
    } else throw new Error(`unknown flag ${k}`);
    i++;
  }
  for (const f of a.fanouts) if (!FANOUTS.includes(f)) throw new Error(`unknown fan-out ${f}`);
  return a;
}

function next<T>(c: ChildProcess, kind: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { kind: string }) => {
      if (m.kind !== kind) return;
      c.off('message', onMsg);
      c.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number) => reject(new Error(`child exited (${code}) waiting for ${kind}`));
    c.on('message', onMsg);
    c.once('exit', onExit);
  });
}

interface Row {
  fanout: Fanout;
  peers: number;
  size: number;
  deliveries: number;
  expected: number;
  msgsPerSecPerReceiver: number;
  wireBytesPerDelivery: number;
  streamBytesPerDelivery: number;
  cpuMsPerDelivery: number;
  p50Ms: number;
  p99Ms: number;
  duplicatesPerDelivery: number;
  /** Share of deliveries that gossipsub did not reach and the direct fallback carried. */
  fallbackShare: number;
}

async function runOne(fanout: Fanout, n: number, size: number, a: Args): Promise<Row> {
  const polyfill = join(HERE, '..', '..', 'scripts', 'polyfills.mjs');
  const kids: ChildProcess[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const c = track(fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', polyfill], env: { ...process.env, FANOUT_INDEX: String(i) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      kids.push(c);
    }
    await Promise.all(kids.map((c) => next(c, 'alive')));
    kids[0]!.send({ kind: 'start', fanout, bootstrap: [], index: 0 });
    const boot = await next<{ addrs: string[] }>(kids[0]!, 'ready');
    await Promise.all(
      kids.slice(1).map((c, i) => {
        c.send({ kind: 'start', fanout, bootstrap: boot.addrs, index: i + 1 });
        return next(c, 'ready');
      }),
    );
    // A full mesh first (peer exchange through the bootstrap peer; slow to settle at 15 peers).
    const meshBy = Date.now() + 90_000;
    for (;;) {
      const counts = await Promise.all(
        kids.map((c) => {
          const p = next<{ n: number }>(c, 'peers');
          c.send({ kind: 'peers' });
          return p.then((m) => m.n);
        }),
      );
      if (counts.every((x) => x === n - 1)) break;
      if (Date.now() > meshBy) throw new Error(`no full mesh of ${n} after 90 s: ${counts.join(',')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Warm-up: gossipsub's mesh (heartbeats), direct streams open.
    const perSender = Math.max(1, Math.round((a.rate * a.seconds) / n));
    const intervalMs = (1000 * n) / a.rate;
    const warm = { kind: 'run', at: nowMs() + 3000, perSender: 10, intervalMs: 100, size: 64, senders: n, deadline: nowMs() + 8000 } as const;
    for (const c of kids) c.send(warm);
    await Promise.all(kids.map((c) => next(c, 'result')));
    const at = nowMs() + 500;
    const run = { kind: 'run', at, perSender, intervalMs, size, senders: n, deadline: at + a.seconds * 1000 + 10_000 } as const;
    for (const c of kids) c.send(run);
    const results = (await Promise.all(kids.map((c) => next<{ result: ChildResult }>(c, 'result')))).map((m) => m.result);
    const deliveries = results.reduce((s, r) => s + r.received, 0);
    const expected = n * (n - 1) * perSender;
    const lat = results.flatMap((r) => r.latencies);
    const rates = results.map((r) => (r.lastAt > at ? r.received / ((r.lastAt - at) / 1000) : 0));
    const wire = results.reduce((s, r) => s + r.wireSent, 0);
    const stream = results.reduce((s, r) => s + r.syncSent + r.gossipSent, 0);
    const cpu = results.reduce((s, r) => s + r.cpuMs, 0);
    const dups = results.reduce((s, r) => s + r.duplicates, 0);
    return {
      fanout,
      peers: n,
      size,
      deliveries,
      expected,
      msgsPerSecPerReceiver: round(rates.reduce((s, x) => s + x, 0) / rates.length, 1),
      wireBytesPerDelivery: round(wire / Math.max(1, deliveries), 0),
      streamBytesPerDelivery: round(stream / Math.max(1, deliveries), 0),
      cpuMsPerDelivery: round(cpu / Math.max(1, deliveries), 4),
      p50Ms: round(percentile(lat, 50), 2),
      p99Ms: round(percentile(lat, 99), 2),
      duplicatesPerDelivery: round(dups / Math.max(1, deliveries), 3),
      fallbackShare: round(results.reduce((x, r) => x + r.directFallbacks, 0) / Math.max(1, deliveries), 3),
    };
  } finally {
    for (const c of kids) {
      if (c.connected) c.send({ kind: 'exit' });
    }
    await Promise.all(kids.map((c) => (c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) return child();
  installHandlers();
  const a = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  for (const n of a.peers) {
    for (const size of a.sizes) {
      for (const f of a.fanouts) {
        log(`fan-out ${f}, ${n} peers, ${size} B, ${a.rate} broadcasts/s for ${a.seconds} s`);
        const r = await runOne(f, n, size, a);
        log(`  ${JSON.stringify(r)}`);
        rows.push(r);
      }
    }
  }
  const head = '| fan-out | peers | size B | delivered | msgs/s per receiver | wire B per delivery | stream B per delivery | CPU ms per delivery | p50 ms | p99 ms | dup copies per delivery | sent directly (fallback) |';
  const lines = [head, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(
      `| ${r.fanout} | ${r.peers} | ${r.size} | ${r.deliveries}/${r.expected} | ${r.msgsPerSecPerReceiver} | ${r.wireBytesPerDelivery} | ${r.streamBytesPerDelivery} | ${r.cpuMsPerDelivery} | ${r.p50Ms} | ${r.p99Ms} | ${r.duplicatesPerDelivery} | ${r.fallbackShare} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  mkdirSync(dirname(a.out), { recursive: true });
  writeFileSync(a.out, JSON.stringify({ at: new Date().toISOString(), args: a, rows }, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`fanout: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
