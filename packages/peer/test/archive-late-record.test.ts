// A run of a task that ends after the task left the live document must end up in every replica's
// archived record of it. A peer could delete a task while its own outcome of a duplicate run still
// waited in its activity batch; the replicas that took the deletion and that outcome in together
// archived the run, the deleter archived without it, and nothing ever told it (its own later write
// is local, and only remote changes looked for archived tasks). (Found while tracing a netns churn
// test failure, whose own cause was the test comparing runs before the documents agreed.) Now
// the archiver keeps a task whose record waits to be written, and a local record of a task
// archived here brings it back live with its archived facts, so it leaves again with that run.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { echoAgent } from '@agentmesh/agents';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { FAST_TIMING, until } from './helpers.js';

// Nothing finished is kept: a finished task is due at the next look (every 100 ms).
const ROLLOVER = { retentionMs: 60_000, maxFinished: 0, maxTombstones: 1_000_000, forgetPeersAfterMs: 1000, checkMs: 100, staggerMs: 10 };

function onePeer(archive: MemoryArchive): Peer {
  return new Peer({
    id: 'p0', name: 'P0', capacity: 100, agents: { echo: echoAgent }, transport: new MemoryHub().join('p0'),
    storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: 1, timing: FAST_TIMING, archive, rollover: ROLLOVER,
  });
}

describe('a record written after its task was archived', () => {
  it('is not lost: the task comes back live and is archived again with it', async () => {
    const archive = new MemoryArchive();
    const peer = onePeer(archive);
    await peer.start();
    try {
      const [t] = await peer.submit([{ type: 'echo', payload: { n: 1 } }]);
      const id = t!.id;
      await until(() => archive.get(id) !== undefined && peer.document.board.getSpec(id) === undefined, 20_000);
      const before = Object.keys(archive.get(id)!.facts);
      // A later run of this peer ends now (its record is written into the document after the task left).
      peer.document.board.putActivity('a-late-0', { peer: 'p0', records: [{ kind: 'done', task: id, round: 2, at: Date.now(), ms: 1, result: { n: 1 } }] });
      await until(() => Object.keys(archive.get(id)?.facts ?? {}).length > before.length && peer.document.board.getSpec(id) === undefined, 20_000);
      const rec = archive.get(id)!;
      expect(Object.keys(rec.facts).filter((k) => !before.includes(k))).toHaveLength(1);
      // Decided as before: the canonical result and the round that made it stay.
      expect(rec.state).toBe('done');
      expect(rec.result).toEqual({ n: 1 });
      expect(rec.attempts).toBe(1);
    } finally {
      await peer.stop();
    }
  }, 60_000);

  it('a task whose record waits to be written is not archived until it is written', async () => {
    const archive = new MemoryArchive();
    const peer = onePeer(archive);
    const runs = (peer as unknown as { runs: { outcomePending: (id: string) => boolean } }).runs;
    const pending = runs.outcomePending.bind(runs);
    const held = new Set<string>();
    runs.outcomePending = (id) => held.has(id) || pending(id);
    await peer.start();
    try {
      // Two submits: two task batches, each its own unit of archival.
      const [a] = await peer.submit([{ type: 'echo', payload: { n: 1 } }]);
      held.add(a!.id);
      const [b] = await peer.submit([{ type: 'echo', payload: { n: 2 } }]);
      await until(() => archive.get(b!.id) !== undefined, 20_000);
      // Several looks later, the held task is still live.
      const looks = Date.now() + 5 * ROLLOVER.checkMs;
      await until(() => Date.now() > looks, 5_000);
      expect(peer.document.board.getSpec(a!.id)).toBeDefined();
      expect(archive.get(a!.id)).toBeUndefined();
      held.clear();
      await until(() => archive.get(a!.id) !== undefined, 20_000);
      expect(archive.get(a!.id)!.result).toEqual({ n: 1 });
    } finally {
      await peer.stop();
    }
  }, 60_000);
});
