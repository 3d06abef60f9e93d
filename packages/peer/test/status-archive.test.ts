// What `status` and the metrics say of archived tasks: duplicate runs of tasks that left the live
// document still count (the archive keeps them, each task once); the metrics ring and the
// Prometheus text report the same figures as status.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage, type ArchiveRecord } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { PeerMetrics } from '../src/cli/metrics.js';

function archived(id: string, dupPeers: string[]): ArchiveRecord {
  const spec = { id, type: 'echo', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3, timeoutMs: 0, createdAt: 1, createdBy: 'pa', notBefore: 0, strategy: 'capacity-weighted' };
  const facts: Record<string, unknown> = {};
  for (const [i, peer] of ['pa', ...dupPeers].entries()) {
    facts[`${id}/claim/1/${peer}`] = { peer, round: 1, score: 0.1 + i / 10, at: 2 };
    facts[`${id}/done/1/${peer}`] = { peer, round: 1, result: i, at: 3, ms: 1 };
  }
  return { id, spec, facts, state: 'done', finishedAt: 3, result: 0, peer: 'pa', attempts: 1, gen: 'g', archivedAt: 4 };
}

describe('status of archived tasks', () => {
  it('counts the duplicate runs the archive keeps, each task once; metrics and /metrics agree', async () => {
    const archive = new MemoryArchive();
    await archive.append([archived('t-a', ['pb']), archived('t-b', ['pb', 'pc']), archived('t-c', [])]);
    const hub = new MemoryHub();
    const p = new Peer({ id: 'pa', name: 'PA', capacity: 10, agents: { echo: (p) => p }, transport: hub.join('pa'), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: 1, archive });
    await p.start();
    try {
      const st = p.status();
      expect(st.tasks.done).toBe(3);
      expect(st.duplicateRuns).toBe(3);
      const m = new PeerMetrics(p, { intervalMs: 60_000 });
      m.start();
      const s = m.samples().at(-1)!;
      expect(s).toMatchObject({ duplicateRuns: 3, archived: 3, tasks: expect.objectContaining({ done: 3 }) });
      const text = m.prometheus();
      expect(text).toMatch(/^agentmesh_tasks\{state="done"\} 3$/m);
      expect(text).toMatch(/^agentmesh_duplicate_runs 3$/m);
      expect(text).toMatch(/^# TYPE agentmesh_run_duration_seconds histogram$/m);
      expect(text).toMatch(/^agentmesh_peers\{state="alive"\} 1$/m);
      m.stop();
    } finally {
      await p.stop();
    }
  });
});
