// Real `agentmesh peer` processes in Linux network namespaces (test/netns/lab.ts), with faults
// that leave no trace a TCP stack would report: peers whose address changes under them (their
// interface re-addressed, old connections silently dead) must rejoin, and a half-open peer (every
// packet it sends silently dropped, so it keeps hearing the mesh while nobody hears it, and no
// reset ever arrives) must be given up on by the others and rejoin after the heal. The checks are
// the simulator's: everything ended everywhere, one winner, same board and document, duplicate runs
// only of tasks the fault caught in flight. Skipped loudly where namespaces are not allowed.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipIptables, skipNamespaces } from './netns/banner.js';
import { until, waitAlive } from './netns/checks.js';
import { clearDrops, dropOutgoing } from './netns/faults.js';
import { Lab } from './netns/lab.js';
import { LIBP2P_PORT, startMesh, type NetPeer } from './netns/mesh.js';
import { Ledger, closeScenario, summary, withLogs } from './netns/scenario.js';

const FILE = 'netns-churn.test.ts';
const noNs = skipNamespaces(FILE);
const noIpt = skipIptables(FILE, noNs);

describe.skipIf(noNs !== undefined)(`address changes and half-open links between peer processes in namespaces${noNs ? ` (SKIPPED: ${noNs})` : ''}`, () => {
  let lab: Lab | undefined;
  let peers: NetPeer[] = [];
  const base = mkdtempSync(join(tmpdir(), 'am-netns-churn-'));

  beforeEach(async () => {
    lab = await Lab.create({ sides: ['L', 'L', 'L', 'L'] });
  }, 60_000);

  // Every peer, namespace and link a test made is gone after it, also when it failed.
  afterEach(async () => {
    await Promise.all(peers.map((p) => p.stop(5_000)));
    peers = [];
    const l = lab;
    lab = undefined;
    await l?.destroy();
    if (l) expect(await l.leftovers()).toEqual([]);
  }, 60_000);

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const everyone = () => peers.map((p) => p.name);

  it('peers whose address changes mid-run rejoin (one listening on its address, one on 0.0.0.0)', async () => {
    await withLogs('readdress', () => peers, async () => {
      const ledger = new Ledger();
      // C listens on its own address, as the other peers do; D on the wildcard address.
      peers = await startMesh(lab!, join(base, 'readdress'), { listen: { 3: `/ip4/0.0.0.0/tcp/${LIBP2P_PORT}` } });
      const [a, b, c, d] = peers as [NetPeer, NetPeer, NetPeer, NetPeer];
      const meshMs = await waitAlive(peers, everyone, 'a full mesh of 4');
      const { exposed: caught } = await ledger.warmUp(a, peers);
      const t0 = Date.now();
      const oldC = c.node.addr;
      await lab!.readdress(2, '10.77.0.112');
      await lab!.readdress(3, '10.77.0.113');
      // Their old connections went silent: the others notice them gone, then they must come back.
      const goneMs = await until('A notices C and D gone', async () => {
        const alive = await a.aliveNames();
        return !alive.includes('C') && !alive.includes('D') && Date.now() - t0;
      });
      const rejoinMs = await waitAlive(peers, everyone, 'C and D back in the mesh at their new addresses', 90_000);
      // The moved peers take work again and their results reach everyone.
      const viaC = await ledger.submit(c, { type: 'echo', payload: { via: 'C moved' }, count: 20 });
      const viaD = await ledger.submit(d, { type: 'echo', payload: { via: 'D moved' }, count: 20 });
      const viaB = await ledger.submit(b, { type: 'echo', payload: { via: 'B' }, count: 20 });
      const closing = await closeScenario(peers, ledger);
      expect(oldC).not.toBe(c.node.addr);
      summary('readdress', { meshMs, inFlightAtMove: caught, goneMs, rejoinMs, convergeMs: Date.now() - t0 - rejoinMs, settleMs: closing.settleMs, duplicateRuns: closing.report.duplicateRuns, exposed: ledger.exposed.size, tasks: ledger.ids.length, submittedAfter: viaB.length + viaC.length + viaD.length });
    });
  }, 240_000);

  it.skipIf(noIpt !== undefined)(`a half-open peer (everything it sends silently dropped) is given up on, works alone, and rejoins after the heal${noIpt ? ` (SKIPPED: ${noIpt})` : ''}`, async () => {
    await withLogs('half-open', () => peers, async () => {
      const ledger = new Ledger();
      peers = await startMesh(lab!, join(base, 'half-open'));
      const [a, b, c, d] = peers as [NetPeer, NetPeer, NetPeer, NetPeer];
      const meshMs = await waitAlive(peers, everyone, 'a full mesh of 4');
      const { exposed: caught } = await ledger.warmUp(a, peers);
      const t0 = Date.now();
      await dropOutgoing(lab!, 1);
      // Tasks submitted as the link goes half-open: B still hears them, nobody hears B.
      ledger.expose(await ledger.submit(a, { type: 'sleep', payload: { ms: 200 }, count: 15 }));
      const othersMs = await waitAlive([a, c, d], () => ['A', 'C', 'D'], 'A, C and D give up on B');
      const selfMs = await waitAlive([b], () => ['B'], 'B sees that nobody answers', 90_000);
      const others = await ledger.submit(c, { type: 'echo', payload: { side: 'ACD' }, count: 20 });
      const alone = await ledger.submit(b, { type: 'echo', payload: { side: 'B alone' }, count: 10 });
      await until('both sides finish their own tasks', async () =>
        (await c.tasks(others)).every((t) => t.state === 'done') && (await b.tasks(alone)).every((t) => t.state === 'done'));
      const faultMs = Date.now() - t0;
      await clearDrops(lab!, [1]);
      const t1 = Date.now();
      const rejoinMs = await waitAlive(peers, everyone, 'B back in the mesh after the heal', 90_000);
      await ledger.submit(b, { type: 'echo', payload: { after: 'heal' }, count: 10 });
      const closing = await closeScenario(peers, ledger);
      summary('half-open', { meshMs, inFlightAtFault: caught, othersGiveUpMs: othersMs, bNoticesMs: othersMs + selfMs, faultMs, rejoinMs, convergeMs: Date.now() - t1, settleMs: closing.settleMs, duplicateRuns: closing.report.duplicateRuns, exposed: ledger.exposed.size, tasks: ledger.ids.length });
    });
  }, 240_000);
});
