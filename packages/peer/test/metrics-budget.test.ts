// The metrics ring measures the live document's encoded size (a full encoding) only within a share
// of the peer's time: a document that takes long to encode is measured less often, not every few
// samples whatever it costs (a 30-peer mesh spent a tenth of a peer's CPU on it).
import { describe, expect, it } from 'vitest';
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock } from '../src/index.js';
import { PeerMetrics } from '../src/cli/metrics.js';

async function measures(docShare: number | undefined): Promise<{ calls: number; bytes: (number | null)[] }> {
  const hub = new MemoryHub();
  const p = new Peer({ id: 'pa', name: 'PA', capacity: 10, agents: { echo: (x) => x }, transport: hub.join('pa'), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: 1 });
  await p.start();
  try {
    let t = 0;
    let calls = 0;
    const real = p.docStats.bind(p);
    // Each measure "takes" 100 ms of the injected clock.
    p.docStats = () => {
      calls++;
      t += 100;
      return real();
    };
    const m = new PeerMetrics(p, { intervalMs: 60_000, docEvery: 1, now: () => t, ...(docShare !== undefined ? { docShare } : {}) });
    const bytes: (number | null)[] = [];
    for (let i = 0; i < 20; i++) {
      bytes.push(m.sample()!.docBytes);
      t += 2000;
    }
    return { calls, bytes };
  } finally {
    await p.stop();
  }
}

describe('metrics: the document measure has a time budget', () => {
  it('measures a slow document about once per 20 s at the default 0.5% share, every sample without a budget', async () => {
    const budgeted = await measures(undefined);
    // 20 samples 2 s apart: measures at 0 s, then not before 100 ms + 100 ms / 0.005 = 20.1 s later.
    expect(budgeted.calls).toBe(2);
    // Every sample still carries the last measure.
    expect(budgeted.bytes.every((b) => typeof b === 'number' && b > 0)).toBe(true);
    const unbudgeted = await measures(1);
    expect(unbudgeted.calls).toBe(20);
  });
});
