// Slow and flaky links between real `agentmesh peer` processes in Linux network namespaces. This
// kernel has no netem, so every connection to a peer passes through a userspace proxy in that
// peer's namespace (test/netns/fault-proxy.mjs, put in front of the libp2p port by an iptables
// REDIRECT): it delays every chunk both ways, cuts connections with resets, or stalls them (a
// silent half-open link: TCP stays healthy, the bytes never arrive, only the application can tell).
// Packet loss is real: iptables drops a fraction of what each peer receives, the kernel's TCP
// retransmits. The checks are the simulator's (nothing lost, one winner, the same board and
// document everywhere, duplicate runs only of tasks a fault caught in flight).
// Skipped loudly where namespaces or iptables are not available.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipIptables, skipNamespaces } from './netns/banner.js';
import { inFlight, until, waitAlive } from './netns/checks.js';
import { randomLoss, startProxy, type FaultProxy } from './netns/faults.js';
import { Lab } from './netns/lab.js';
import { startMesh, type NetPeer } from './netns/mesh.js';
import { Ledger, closeScenario, summary, withLogs } from './netns/scenario.js';

const FILE = 'netns-slow.test.ts';
const noNs = skipNamespaces(FILE);
const noIpt = skipIptables(FILE, noNs);
const why = noNs ?? noIpt;

describe.skipIf(why !== undefined)(`slow, lossy, cut and stalled links between peer processes in namespaces${why ? ` (SKIPPED: ${why})` : ''}`, () => {
  let lab: Lab | undefined;
  let peers: NetPeer[] = [];
  let proxies: FaultProxy[] = [];
  const base = mkdtempSync(join(tmpdir(), 'am-netns-slow-'));

  beforeEach(async () => {
    lab = await Lab.create({ sides: ['L', 'L', 'L', 'L'] });
    // Every peer gets its proxy before it starts, so every connection passes through one.
    proxies = await Promise.all(lab.nodes.map((n) => startProxy(lab!, n.index)));
  }, 60_000);

  afterEach(async () => {
    await Promise.all(peers.map((p) => p.stop(5_000)));
    await Promise.all(proxies.map((p) => p.stop()));
    peers = [];
    proxies = [];
    const l = lab;
    lab = undefined;
    await l?.destroy();
    if (l) expect(await l.leftovers()).toEqual([]);
  }, 60_000);

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const everyone = () => peers.map((p) => p.name);
  /** How often `p`'s transport logged losing its connection to `q` (debug log). */
  const disconnects = (p: NetPeer, q: NetPeer) => p.log.filter((l) => l.includes('"peer disconnected"') && l.includes(q.id)).length;

  it('a slow (60 +- 30 ms each way) and lossy (3 % of packets) network: every task done once, the same board everywhere', async () => {
    await withLogs('delay-loss', () => peers, async () => {
      const ledger = new Ledger();
      await Promise.all(proxies.map((p) => p.set({ delayMs: Number(process.env.NETNS_DELAY ?? 60), jitterMs: Number(process.env.NETNS_JITTER ?? 30) })));
      await randomLoss(lab!, [0, 1, 2, 3], Number(process.env.NETNS_LOSS ?? 0.03));
      const t0 = Date.now();
      peers = await startMesh(lab!, join(base, 'delay-loss'));
      const meshMs = await waitAlive(peers, everyone, 'a full mesh of 4 over the slow network');
      const t1 = Date.now();
      for (const [i, p] of peers.entries()) {
        await ledger.submit(p, { type: 'echo', payload: { from: p.name }, count: 30 });
        await ledger.submit(p, { type: 'sleep', payload: { ms: 400 + 100 * i }, count: 15 });
      }
      // No peer is ever cut off here: no duplicate run is justified (ledger.exposed stays empty).
      const closing = await closeScenario(peers, ledger, 120_000);
      // Every connection has a receiver, so every one passed through a proxy.
      const stats = await Promise.all(proxies.map((p) => p.stats()));
      const accepted = stats.reduce((n, s) => n + Number(s.accepted), 0);
      expect(accepted).toBeGreaterThanOrEqual(3);
      summary('delay-loss', { startMs: t1 - t0, meshMs, workMs: Date.now() - t1, settleMs: closing.settleMs, duplicateRuns: closing.report.duplicateRuns, tasks: ledger.ids.length, proxiedConnections: accepted, proxiedBytes: stats.reduce((n, s) => n + Number(s.bytes), 0) });
    });
  }, 240_000);

  it('connections reset mid-run: one reset costs no duplicate run; resets every 1.5 s (flapping) only cost runs they caught', async () => {
    await withLogs('cuts', () => peers, async () => {
      const ledger = new Ledger();
      peers = await startMesh(lab!, join(base, 'cuts'));
      const meshMs = await waitAlive(peers, everyone, 'a full mesh of 4');
      // One reset of every connection while tasks run: the peers redial at once (well within the
      // lease), so no run may be repeated: these tasks are not exposed.
      const once: string[] = [];
      for (const p of peers) once.push(...(await ledger.submit(p, { type: 'sleep', payload: { ms: 6000 }, count: 10 })));
      await until('tasks running', async () => (await peers[0]!.status()).tasks.running! > 0);
      await new Promise((r) => setTimeout(r, 2500)); // connections older than the transport's 2 s "young" mark
      const t0 = Date.now();
      const reset = (await Promise.all(proxies.map((p) => p.stats()))).reduce((n, s) => n + Number(s.open), 0);
      await Promise.all(proxies.map((p) => p.set({ cut: true })));
      await until('the single-reset tasks ended everywhere', async () => (await inFlight(peers, once)).size === 0);
      const onceMs = Date.now() - t0;
      // Then a flapping network: every connection reset every 1.5 s for 9 s. The transport backs
      // off redials of connections that die young (1, 2, 4 s), past the 3 s lease: runs these
      // resets catch may be repeated (exposed), and are counted.
      for (const p of peers) await ledger.submit(p, { type: 'sleep', payload: { ms: 1500 }, count: 15 });
      await until('tasks running', async () => (await peers[0]!.status()).tasks.running! > 0);
      for (let k = 0; k < 6; k++) {
        await ledger.exposeInFlight(peers);
        await Promise.all(proxies.map((p) => p.set({ cut: true })));
        await new Promise((r) => setTimeout(r, 1500));
      }
      const stats = await Promise.all(proxies.map((p) => p.stats()));
      const t1 = Date.now();
      const rejoinMs = await waitAlive(peers, everyone, 'a full mesh again after the resets');
      await ledger.submit(peers[2]!, { type: 'echo', payload: { after: 'cuts' }, count: 20 });
      const closing = await closeScenario(peers, ledger);
      summary('cuts', {
        meshMs, singleReset: reset, singleResetTasksMs: onceMs, connectionsResetInAll: stats.reduce((n, s) => n + Number(s.cut), 0), rejoinMs,
        convergeMs: Date.now() - t1, duplicateRuns: closing.report.duplicateRuns, flappingExposed: ledger.exposed.size, tasks: ledger.ids.length,
      });
    });
  }, 240_000);

  it('a stalled peer (its links silently stop carrying bytes, TCP stays healthy) is given up on and rejoins when they resume', async () => {
    await withLogs('stall', () => peers, async () => {
      const ledger = new Ledger();
      peers = await startMesh(lab!, join(base, 'stall'));
      const [a, b, c, d] = peers as [NetPeer, NetPeer, NetPeer, NetPeer];
      const meshMs = await waitAlive(peers, everyone, 'a full mesh of 4');
      for (const p of peers) await ledger.submit(p, { type: 'sleep', payload: { ms: 1500 }, count: 20 });
      await until('tasks running', async () => (await b.status()).tasks.running! > 0);
      await ledger.exposeInFlight(peers);
      const disconnectsBefore = disconnects(a, b);
      const t0 = Date.now();
      // B's links, both ways: connections to B through B's proxy, B's connections through the others'.
      await proxies[1]!.set({ stall: true });
      await Promise.all([0, 2, 3].map((i) => proxies[i]!.set({ stallFrom: [b.node.addr] })));
      const giveUpMs = await waitAlive([a, c, d], () => ['A', 'C', 'D'], 'A, C and D give up on the stalled B');
      const aloneMs = await waitAlive([b], () => ['B'], 'B gives up on the others');
      const others = await ledger.submit(a, { type: 'echo', payload: { side: 'ACD' }, count: 20 });
      const alone = await ledger.submit(b, { type: 'echo', payload: { side: 'B' }, count: 10 });
      await until('both sides finish their own tasks', async () =>
        (await d.tasks(others)).every((t) => t.state === 'done') && (await b.tasks(alone)).every((t) => t.state === 'done'));
      // Long enough for the transports to give up on the silent connections (libp2p's connection
      // monitor), not only the peers' presence: B must then come back on new connections.
      const dropped = await until('A drops its silent connection to B', async () => disconnects(a, b) > disconnectsBefore && Date.now() - t0, 60_000);
      const stalledMs = Date.now() - t0;
      await proxies[1]!.set({ stall: false });
      await Promise.all([0, 2, 3].map((i) => proxies[i]!.set({ stallFrom: [] })));
      const t1 = Date.now();
      const rejoinMs = await waitAlive(peers, everyone, 'B back in the mesh after the stall', 90_000);
      const closing = await closeScenario(peers, ledger);
      summary('stall', { meshMs, giveUpMs, bGivesUpMs: giveUpMs + aloneMs, connectionDroppedMs: dropped, stalledMs, rejoinMs, convergeMs: Date.now() - t1, duplicateRuns: closing.report.duplicateRuns, exposed: ledger.exposed.size, tasks: ledger.ids.length });
    });
  }, 240_000);
});
