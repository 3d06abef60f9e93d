// An idle peer waits on an event, not on a 10 ms timer: with no unfinished task, no run and nothing
// to flush, its main loop ticks once per heartbeat (at most idleTickMs apart), and a submit or any
// update from another peer brings the next tick back within tickMs. Virtual time (ManualClock), so
// the counts do not depend on how fast the machine is.
import { describe, expect, it } from 'vitest';
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, type AgentRegistry, type Clock, type TimerId } from '../src/index.js';
import { ManualClock } from './manual-clock.js';

const agents: AgentRegistry = { echo: (p) => p };
const immediate = () => new Promise<void>((r) => setImmediate(r));
const TICK_MS = 10;

/** One peer's view of the shared clock, counting the timers it arms for one tick (tickMs). */
class PeerClock implements Clock {
  ticksArmed = 0;
  constructor(private readonly shared: ManualClock) {}
  now(): number {
    return this.shared.now();
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    if (ms === TICK_MS) this.ticksArmed++;
    return this.shared.setTimeout(fn, ms);
  }
  clearTimeout(id: TimerId): void {
    this.shared.clearTimeout(id);
  }
}

async function idleMesh(idleTickMs: number) {
  const shared = new ManualClock();
  const clocks = [new PeerClock(shared), new PeerClock(shared)];
  const hub = new MemoryHub();
  const peers = clocks.map(
    (clock, i) =>
      new Peer({ id: `p${i}`, name: `P${i}`, capacity: 10, agents, transport: hub.join(`p${i}`), storage: new MemoryStorage(new MemoryDisk()), clock, seed: i + 1, timing: { tickMs: TICK_MS, heartbeatMs: 500, idleTickMs } }),
  );
  await Promise.all(peers.map((p) => p.start()));
  await shared.advanceAsync(3000, immediate);
  await peers[0]!.submit(Array.from({ length: 10 }, () => ({ type: 'echo', payload: 1 })));
  await shared.advanceAsync(3000, immediate);
  expect(peers.every((p) => p.status().tasks.done === 10)).toBe(true);
  return { shared, clocks, peers };
}

describe('the main loop of an idle peer', () => {
  it('sleeps until an event or its next heartbeat', async () => {
    for (const [idleTickMs, atLeast, below] of [
      [TICK_MS, 1500, Infinity],
      [200, 0, 50],
    ] as const) {
      const { shared, clocks, peers } = await idleMesh(idleTickMs);
      const before = clocks.map((c) => c.ticksArmed);
      await shared.advanceAsync(10_000, immediate);
      const ticks = clocks.reduce((n, c, i) => n + c.ticksArmed - before[i]!, 0);
      // Ten idle seconds, two peers: 2,000 ticks of a loop that never sleeps; a handful otherwise.
      expect(ticks).toBeGreaterThanOrEqual(atLeast);
      expect(ticks).toBeLessThan(below);
      // Heartbeats go on while it sleeps: each peer still sees the other alive.
      expect(peers[0]!.isAlive('p1') && peers[1]!.isAlive('p0')).toBe(true);
      await Promise.all(peers.map((p) => p.stop()));
    }
  });

  it('wakes within one tick on a local submit and on an update from another peer', async () => {
    const { shared, clocks, peers } = await idleMesh(200);
    // Between two heartbeats and archive looks: both loops sleep for 100 ms or more.
    await shared.advanceAsync(1250, immediate);
    for (const p of peers) expect((p as unknown as { loop: { tickDue: number } }).loop.tickDue - shared.now()).toBeGreaterThan(TICK_MS);
    const before = clocks.map((c) => c.ticksArmed);
    // p1 submits: its own loop wakes (the submit), and p0's (the update it receives).
    await peers[1]!.submit([{ type: 'echo', payload: 2 }]);
    // (Outgoing updates are merged for batchMs, 2 ms, before they leave.)
    await shared.advanceAsync(5, immediate);
    expect(clocks[1]!.ticksArmed).toBeGreaterThan(before[1]!);
    expect(clocks[0]!.ticksArmed).toBeGreaterThan(before[0]!);
    await shared.advanceAsync(2000, immediate);
    expect(peers.every((p) => p.status().tasks.done === 11)).toBe(true);
    await Promise.all(peers.map((p) => p.stop()));
  });
});
