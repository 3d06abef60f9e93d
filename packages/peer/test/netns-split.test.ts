// Real network splits between real `agentmesh peer` processes, each in its own Linux network
// namespace with its own address (test/netns/lab.ts): five peers, A B C on the left bridge and
// D E on the right one. A split is the trunk between the bridges taken down (heal: up again); a
// one-way split is every packet from the left silently dropped on the right (iptables). Both sides
// keep working; after the heal every task is ended everywhere, with one winner, the same board and
// document on every peer, and duplicate runs only of tasks the split caught in flight.
// Skipped loudly where namespaces are not allowed (not root, no iproute2); CI runs them as root.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipIptables, skipNamespaces } from './netns/banner.js';
import { until, waitAlive } from './netns/checks.js';
import { clearDrops, dropFrom } from './netns/faults.js';
import { Lab } from './netns/lab.js';
import { startMesh, type NetPeer } from './netns/mesh.js';
import { Ledger, closeScenario, summary, withLogs } from './netns/scenario.js';

const FILE = 'netns-split.test.ts';
const noNs = skipNamespaces(FILE);
const noIpt = skipIptables(FILE, noNs);
const LEFT = [0, 1, 2];
const RIGHT = [3, 4];

describe.skipIf(noNs !== undefined)(`network splits between peer processes in namespaces${noNs ? ` (SKIPPED: ${noNs})` : ''}`, () => {
  let lab: Lab | undefined;
  let peers: NetPeer[] = [];
  const base = mkdtempSync(join(tmpdir(), 'am-netns-split-'));

  beforeEach(async () => {
    lab = await Lab.create({ sides: ['L', 'L', 'L', 'R', 'R'] });
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

  const side = (p: NetPeer) => (LEFT.includes(p.index) ? LEFT : RIGHT).map((i) => peers[i]!.name);
  const everyone = () => peers.map((p) => p.name);

  /** Tasks before the fault, a fault, work on both sides, the heal, work after it, the checks. */
  async function splitAndHeal(label: string, fault: () => Promise<void>, heal: () => Promise<void>, holdMs = 0) {
    const ledger = new Ledger();
    peers = await startMesh(lab!, join(base, label));
    const [a, , , d, e] = peers as [NetPeer, NetPeer, NetPeer, NetPeer, NetPeer];
    const meshMs = await waitAlive(peers, everyone, 'a full mesh of 5');
    const { short: before, exposed: caught } = await ledger.warmUp(a, peers);
    const t0 = Date.now();
    await fault();
    // Tasks submitted on both sides as the split begins, before either side noticed it: they may
    // be given to a peer across the split, and run on both sides (justified: the split caught them).
    ledger.expose(await ledger.submit(a, { type: 'sleep', payload: { ms: 200 }, count: 15 }));
    ledger.expose(await ledger.submit(d, { type: 'sleep', payload: { ms: 200 }, count: 15 }));
    const detectMs = await waitAlive(peers, side, 'each side sees only itself alive');
    // Both sides keep taking work; neither knows the other's.
    const left = await ledger.submit(a, { type: 'echo', payload: { side: 'left' }, count: 20 });
    const right = await ledger.submit(d, { type: 'echo', payload: { side: 'right' }, count: 20 });
    // Exclusive tasks run only with a quorum (3 of the 5): on the left, not on the right.
    const leftExclusive = await ledger.submit(a, { type: 'echo', payload: { exclusive: 'left' }, count: 5, exclusive: true });
    const rightExclusive = await ledger.submit(d, { type: 'echo', payload: { exclusive: 'right' }, count: 5, exclusive: true });
    for (const p of peers) {
      const mine = LEFT.includes(p.index) ? [...left, ...leftExclusive] : right;
      await until(`${p.name} finishes its side's tasks`, async () => (await p.tasks(mine)).every((t) => t.state === 'done'));
    }
    expect((await a.tasks(right)).every((t) => t.state === 'unknown')).toBe(true);
    expect((await d.tasks(left)).every((t) => t.state === 'unknown')).toBe(true);
    if (Date.now() - t0 < holdMs) await new Promise((r) => setTimeout(r, holdMs - (Date.now() - t0)));
    // The minority side never ran its exclusive tasks (claimed at most, waiting for a quorum of
    // votes): they run after the heal.
    for (const p of [d, e]) {
      for (const t of await p.tasks(rightExclusive)) expect(['pending', 'claimed'], `${p.name} ${t.id}`).toContain(t.state);
      expect(p.log.filter((l) => rightExclusive.some((id) => l.includes(`"id":"${id}","state":"running"`)))).toEqual([]);
    }
    const splitMs = Date.now() - t0;
    await heal();
    const t1 = Date.now();
    const rejoinMs = await waitAlive(peers, everyone, 'a full mesh again after the heal', 90_000);
    const after = await ledger.submit(e, { type: 'echo', payload: { after: 'heal' }, count: 20 });
    const closing = await closeScenario(peers, ledger);
    // Spot checks through the CLI itself: the same totals and the same winner on both sides.
    const [sa, sd] = [await a.cli('status'), await d.cli('status')];
    expect(sa.tasks).toEqual(sd.tasks);
    expect(sa.tasks.done).toBe(ledger.ids.length);
    for (const id of [before[0]!, left[0]!, right[0]!, after[0]!]) expect(await a.cli('get', id)).toEqual(await e.cli('get', id));
    summary(label, {
      meshMs, inFlightAtFault: caught, detectMs, splitMs, rejoinMs, convergeMs: Date.now() - t1,
      settleMs: closing.settleMs, duplicateRuns: closing.report.duplicateRuns, exposed: ledger.exposed.size, tasks: ledger.ids.length, document: closing.document,
    });
  }

  it('split by taking the trunk down for 35 s, heal by bringing it up: both sides work, then agree', async () => {
    await withLogs('trunk-split', () => peers, () =>
      splitAndHeal('trunk-split', () => lab!.trunk(false), () => lab!.trunk(true), 35_000),
    );
  }, 240_000);

  it.skipIf(noIpt !== undefined)(`one-way split: every packet from the left silently dropped on the right, then healed${noIpt ? ` (SKIPPED: ${noIpt})` : ''}`, async () => {
    await withLogs('one-way-split', () => peers, () =>
      splitAndHeal('one-way-split', () => dropFrom(lab!, LEFT, RIGHT), () => clearDrops(lab!, RIGHT)),
    );
  }, 240_000);

  // Found by this test: lost peers were redialled for only 30 s after libp2p dropped the
  // connection (~13-15 s for a silent link), so once the bootstrap peer was gone two sides split
  // for longer never dialled each other again. Lost peers are now redialled for 10 minutes.
  it('with the bootstrap peer gone, a split longer than 30 s heals once the network does (lost peers are redialled for 10 min)', async () => {
    await withLogs('split-without-bootstrap', () => peers, async () => {
      peers = await startMesh(lab!, join(base, 'no-bootstrap'));
      const [a, b, , d] = peers as [NetPeer, NetPeer, NetPeer, NetPeer, NetPeer];
      await waitAlive(peers, everyone, 'a full mesh of 5');
      const rest = peers.slice(1);
      expect(await a.stop()).toBe(0);
      await lab!.trunk(false);
      await waitAlive(rest, (p) => side(p).filter((n) => n !== 'A'), 'each side sees only itself alive');
      await new Promise((r) => setTimeout(r, 50_000));
      await lab!.trunk(true);
      const rejoinMs = await waitAlive(rest, () => rest.map((p) => p.name), 'B, C, D and E together again after the heal', 30_000);
      const ids = await b.submit({ type: 'echo', payload: { after: 'heal' }, count: 10 });
      await until('D sees the tasks B submitted after the heal', async () => (await d.tasks(ids)).every((t) => t.state === 'done'));
      summary('split-without-bootstrap', { rejoinMs });
    });
  }, 180_000);
});
