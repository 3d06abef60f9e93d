// Shared helpers of the in-process peer tests: a bounded wait, and a mesh of real Peers on the
// in-memory hub with short timings (so leases and retries play out in well under a second).
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock, type AgentRegistry, type PeerTiming } from '../src/index.js';

/** Polls `cond` every 10 ms; throws after `ms`. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const FAST_TIMING: Partial<PeerTiming> = {
  heartbeatMs: 100,
  lease: { leaseMs: 1000, graceMs: 200 },
  backoff: { baseMs: 10, factor: 2, maxMs: 100, jitter: 0.2 },
};

/** `n` peers p0..p{n-1} on one in-memory hub (not started). */
export function memoryMesh(n: number, agents: AgentRegistry, timing: Partial<PeerTiming> = FAST_TIMING): Peer[] {
  const hub = new MemoryHub();
  return Array.from({ length: n }, (_, i) =>
    new Peer({ id: `p${i}`, name: `P${i}`, capacity: 1000, agents, transport: hub.join(`p${i}`), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i + 1, timing }),
  );
}
