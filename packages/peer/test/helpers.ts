// Shared helpers of the peer tests: a bounded wait (for every test file), and a mesh of real Peers on the
// in-memory hub with short timings (so leases and retries play out in well under a second).
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock, type AgentRegistry, type PeerTiming } from '../src/index.js';

/** The one bounded poll of the tests (see src/testing/until.ts): until(cond, ms?, what?) or until(what, probe, ms?). */
export { until, makeUntil } from '../src/testing/until.js';

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
