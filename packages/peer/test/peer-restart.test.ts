// A peer that stops or dies comes back with everything it acknowledged (real files), releases the
// claims it held before dying, and a peer that never comes back loses its leases to the others.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDisk, MemoryStorage, type Storage } from '@agentmesh/crdt-store';
import { openFileStorage } from '@agentmesh/crdt-store/node';
import { MemoryHub, Peer, silentLogger, systemClock, type AgentRegistry, type PeerTiming } from '../src/index.js';
import { until } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const timing: Partial<PeerTiming> = { heartbeatMs: 50, sweepMs: 50, lease: { leaseMs: 400, graceMs: 100 }, drainMs: 200 };

function makePeer(id: string, hub: MemoryHub, storage: Storage, agents: AgentRegistry, seed = 1) {
  return new Peer({ id, name: id.toUpperCase(), capacity: 1000, agents, transport: hub.join(id), storage, clock: systemClock, seed, timing });
}

describe('Peer restart and leases', () => {
  it('restarts from its data dir with every task and result it had', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-peer-'));
    dirs.push(dir);
    const hub = new MemoryHub();
    const p = makePeer('a', hub, await openFileStorage(dir, { logger: silentLogger }), { echo: (x) => x });
    await p.start();
    const specs = await p.submit(Array.from({ length: 20 }, (_, i) => ({ type: 'echo', payload: i })));
    await until(() => p.status().tasks.done === 20);
    await p.stop();
    const again = makePeer('a', new MemoryHub(), await openFileStorage(dir, { logger: silentLogger }), { echo: (x) => x }, 2);
    await again.start();
    expect(again.status().tasks.done).toBe(20);
    for (const s of specs) expect(again.view(s.id)!.result!.result).toBe(s.payload);
    await again.stop();
  });

  it('an acknowledged submit survives a crash that loses everything unflushed', async () => {
    const disk = new MemoryDisk();
    const hub = new MemoryHub();
    const p = makePeer('a', hub, new MemoryStorage(disk), {});
    await p.start();
    const [acked] = await p.submit({ type: 'nobody-runs-this' });
    p.crash();
    disk.crash({ keepBytes: 3 });
    const again = makePeer('a', new MemoryHub(), new MemoryStorage(disk), {}, 2);
    await again.start();
    expect(again.view(acked!.id)?.state).toBe('pending');
    await again.stop();
  });

  it('after a crash mid-run, the restarted peer releases its old claim and the task still finishes once', async () => {
    const disk = new MemoryDisk();
    const hub = new MemoryHub();
    let started = 0;
    const slow: AgentRegistry = {
      slow: async (x, ctx) => {
        started++;
        await ctx.sleep(started === 1 ? 60_000 : 5);
        return x;
      },
    };
    const p = makePeer('a', hub, new MemoryStorage(disk), slow);
    await p.start();
    const [s] = await p.submit({ type: 'slow', payload: 'v' });
    await until(() => p.view(s!.id)?.state === 'running');
    await p.flush();
    p.crash();
    disk.crash();
    hub.leave('a');
    const again = makePeer('a', hub, new MemoryStorage(disk), slow, 2);
    await again.start();
    await until(() => again.view(s!.id)?.state === 'done', 5000);
    const v = again.view(s!.id)!;
    expect(v.expiries).toBe(1);
    expect(v.result!.result).toBe('v');
    expect(v.duplicates).toHaveLength(0);
    await again.stop();
  });

  it('a claim held by a peer that died is bid again after its lease expires', async () => {
    const hub = new MemoryHub();
    const hang: AgentRegistry = { job: (_x, ctx) => ctx.sleep(60_000) };
    const ok: AgentRegistry = { job: () => 'done-by-b' };
    const a = makePeer('a', hub, new MemoryStorage(new MemoryDisk()), hang);
    await a.start();
    const [s] = await a.submit({ type: 'job' });
    await until(() => a.view(s!.id)?.state === 'running');
    const b = makePeer('b', hub, new MemoryStorage(new MemoryDisk()), ok, 3);
    await b.start();
    await until(() => b.view(s!.id)?.state === 'running');
    a.crash();
    hub.leave('a');
    const t0 = Date.now();
    await until(() => b.view(s!.id)?.state === 'done', 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300); // not before the 400 ms lease (minus polling slack)
    expect(b.view(s!.id)!.result!.result).toBe('done-by-b');
    await b.stop();
  });
});
