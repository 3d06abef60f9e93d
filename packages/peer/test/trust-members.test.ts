// Signed entries between real Peers (real libp2p Ed25519 keys, in-memory hub): tasks run and every
// replica agrees with everything signed; a member that writes facts and batches in another member's
// name, or unsigned entries, gets none of them counted anywhere: they are ignored, logged and counted
// in status().trust (docs/security.md, "a member").
import { describe, expect, it } from 'vitest';
import { EntryTrust, MemoryDisk, MemoryStorage, ROOT, encodeTaskBatch, sameReplicaState } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock, type AgentRegistry } from '../src/index.js';
import { generatePeerKey, peerIdOfKey } from '../src/net/keys.js';
import { peerKeySigner, peerTrustOptions } from '../src/net/node-signing.js';
import { FAST_TIMING, until } from './helpers.js';

const agents: AgentRegistry = { echo: (p) => p };

const ROLLOVER = { retentionMs: 60_000, maxFinished: 5, maxTombstones: 4, forgetPeersAfterMs: 1000, checkMs: 50, staggerMs: 100 };

async function signedMesh(n: number, extra: Partial<ConstructorParameters<typeof Peer>[0]> = {}) {
  const hub = new MemoryHub();
  const keys = await Promise.all(Array.from({ length: n }, () => generatePeerKey()));
  const logs: Array<{ peer: number; msg: string; fields?: Record<string, unknown> }> = [];
  const peers = keys.map((key, i) => {
    const id = peerIdOfKey(key);
    return new Peer({
      id, name: `P${i}`, capacity: 1000, agents, transport: hub.join(id), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i + 1,
      timing: FAST_TIMING, trust: peerTrustOptions(id, key), logger: { log: (_l, msg, fields) => logs.push({ peer: i, msg, ...(fields ? { fields } : {}) }) },
      ...extra,
    });
  });
  return { peers, keys, logs };
}

describe('signed entries between peers', () => {
  it('signed peers run tasks and agree; a member forging another member\'s facts gets none counted', async () => {
    const { peers, keys, logs } = await signedMesh(3);
    const [a, b, m] = peers as [Peer, Peer, Peer];
    await Promise.all(peers.map((p) => p.start()));
    const specs = await a.submit(Array.from({ length: 20 }, (_, i) => ({ type: 'echo', payload: { i } })));
    await until(() => peers.every((p) => p.status().tasks.done === 20), 10_000, 'all done everywhere');
    for (const p of peers) expect(p.status().trust).toEqual({ signed: true, badSignature: 0, wrongAuthor: 0, removedAuthor: 0, removed: [] });

    // m is compromised: it writes, in its own replica (so the mesh carries it), entries naming a.
    const mallory = new EntryTrust({ scheme: peerTrustOptions(m.id, keys[2]!).scheme, signer: peerKeySigner(m.id, keys[2]!) });
    const pending = (await a.submit([{ type: 'nobody-runs-this', payload: 1 }]))[0]!;
    await until(() => m.view(pending.id) !== undefined, 10_000, 'task on m');
    const doc = m.document.doc;
    doc.transact(() => {
      const facts = doc.getMap(ROOT.facts);
      // a done in a's name, signed with m's key; a cancel in a's name with no signature.
      const done = { peer: a.id, round: 1, result: 'forged', at: Date.now(), ms: 1 };
      facts.set(`${pending.id}/done/1/${a.id}`, mallory.signed(ROOT.facts, `${pending.id}/done/1/${a.id}`, done));
      facts.set(`${pending.id}/cancel`, { by: a.id, at: Date.now(), reason: 'forged' });
      // a task batch "created by a" (unsigned: m cannot sign as a).
      const spec = { ...specs[0]!, id: 'forged-batch.0', createdBy: a.id, createdAt: 1 };
      const bytes = encodeTaskBatch('forged-batch', { createdBy: a.id, createdAt: 1, tasks: [{ spec }] });
      doc.getMap(ROOT.segs).set('forged-batch', bytes);
    }, 'm-compromised');
    await until(() => a.status().trust.badSignature >= 3 && b.status().trust.badSignature >= 3, 10_000, 'forgeries counted on a and b');
    for (const p of [a, b]) {
      expect(p.view(pending.id)?.state).toBe('pending');
      expect(p.view('forged-batch.0')).toBeUndefined();
      expect(p.status().trust).toMatchObject({ wrongAuthor: 0, removedAuthor: 0 });
    }
    expect(logs.some((l) => l.peer === 0 && l.msg === 'ignored untrusted entry' && l.fields?.reason === 'badSignature')).toBe(true);
    // The replicas still converge (the forged entries are in every document, counted by none).
    for (const p of peers) p.setQuiet(true);
    await until(() => sameReplicaState(a.document.doc, b.document.doc) && sameReplicaState(a.document.doc, m.document.doc), 10_000, 'converged');
    await Promise.all(peers.map((p) => p.stop()));
  }, 30_000);

  it('a removed member: what it wrote before its removal still counts, what it writes after does not, anywhere', async () => {
    const { peers } = await signedMesh(3);
    const [a, b, r] = peers as [Peer, Peer, Peer];
    await Promise.all(peers.map((p) => p.start()));
    const before = await r.submit(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: { i } })));
    await until(() => peers.every((p) => p.status().tasks.done === 5), 10_000, 'r\'s early tasks done everywhere');
    await expect(a.members.remove(a.id)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(a.members.remove('not-a-member')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const removal = await a.members.remove(r.id);
    expect(removal.keep.length).toBeGreaterThan(0);
    await until(() => b.status().trust.removed.includes(r.id) && r.status().trust.removed.includes(r.id), 10_000, 'removal everywhere');
    // r keeps writing (the in-memory hub does not refuse it): none of it counts on a or b.
    const after = await r.submit([{ type: 'echo', payload: { late: true } }]);
    await until(() => a.status().trust.removedAuthor > 0 && b.status().trust.removedAuthor > 0, 10_000, 'late entries refused');
    for (const p of [a, b]) {
      expect(p.view(after[0]!.id)).toBeUndefined();
      for (const s of before) expect(p.view(s.id)?.state).toBe('done');
      expect(p.status().peers.map((x) => x.peerId)).not.toContain(r.id);
      expect(p.status().trust.removed).toEqual([r.id]);
    }
    await Promise.all(peers.map((p) => p.stop()));
  }, 30_000);

  it('signed entries survive document generations: batches split into single entries and archived records still verify', async () => {
    const { peers, logs } = await signedMesh(3, { rollover: ROLLOVER });
    await Promise.all(peers.map((p) => p.start()));
    const ids: string[] = [];
    for (let b = 0; b < 4; b++) {
      ids.push(...(await peers[b % 3]!.submit(Array.from({ length: 25 }, (_, i) => ({ type: 'echo', payload: { b, i } })))).map((x) => x.id));
      await until(() => peers.every((p) => p.status().tasks.done >= ids.length), 15_000, 'batch done');
    }
    await until(() => peers.every((p) => p.generation.n >= 1 && p.status().tasks.done === 100), 15_000, 'a new generation');
    await until(() => new Set(peers.map((p) => p.status().generation.name)).size === 1, 10_000, 'one generation');
    await Promise.all(peers.map((p) => p.settled()));
    // Finished tasks left the live document through signed deletions and archived records (on a
    // busy machine a peer may see some come back and restored: they still verify, see below).
    const shape = JSON.stringify(peers.map((q) => [q.name, q.generation.n, q.archive.counts().total, q.document.board.taskCount]));
    expect(Math.max(...peers.map((p) => p.archive.counts().total)), shape).toBeGreaterThanOrEqual(20);
    for (const p of peers) {
      expect(p.status().trust, JSON.stringify(logs.filter((l) => l.msg === 'ignored untrusted entry').slice(0, 3))).toMatchObject({ badSignature: 0, wrongAuthor: 0, removedAuthor: 0 });
      for (const id of ids) expect((p.view(id) ?? p.archivedView(id))?.state, id).toBe('done');
    }
    await Promise.all(peers.map((p) => p.stop()));
  }, 60_000);
});
