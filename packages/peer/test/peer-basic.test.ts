// The Peer core end to end on the in-memory hub with the real clock: tasks submitted on one peer
// are bid on, awarded once, run, and every replica agrees on state and canonical result.
import { describe, expect, it } from 'vitest';
import { memoryMesh, until } from './helpers.js';
import { sameReplicaState } from '@agentmesh/crdt-store';
import type { AgentRegistry } from '../src/index.js';
import { permanentError } from '@agentmesh/scheduler';

const agents: AgentRegistry = {
  echo: (p) => p,
  double: async (p, ctx) => {
    await ctx.sleep(5);
    ctx.data.put(`d-${ctx.taskId}`, { n: (p as { n: number }).n * 2 });
    return { n: (p as { n: number }).n * 2 };
  },
  boom: () => {
    throw new Error('boom');
  },
  picky: () => {
    throw permanentError('picky: payload.n must be a number');
  },
  sum: (_p, ctx) => Object.values(ctx.inputs).reduce((a: number, r) => a + ((r as { n: number }).n ?? 0), 0),
};

const mesh = (n: number) => memoryMesh(n, agents);

describe('Peer on the in-memory hub', () => {
  it('runs every task exactly once and all replicas agree', async () => {
    const peers = mesh(3);
    await Promise.all(peers.map((p) => p.start()));
    const specs = await peers[0]!.submit(Array.from({ length: 60 }, (_, i) => ({ type: 'double', payload: { n: i } })));
    await until(() => peers.every((p) => p.status().tasks.done === 60));
    for (const p of peers) p.setQuiet(true);
    await until(() => sameReplicaState(peers[0]!.document.doc, peers[1]!.document.doc) && sameReplicaState(peers[0]!.document.doc, peers[2]!.document.doc));
    const results = peers.map((p) => specs.map((s) => JSON.stringify(p.view(s.id)!.result)));
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    for (const s of specs) expect((peers[1]!.view(s.id)!.result!.result as { n: number }).n).toBe((s.payload as { n: number }).n * 2);
    expect(peers[2]!.document.board.dataCount).toBe(60);
    const runs = peers.reduce((a, p) => a + p.counters.done, 0);
    if (runs > 60) {
      for (const s of specs) {
        const f = peers[0]!.document.board.getFacts(s.id)!;
        if (f.dones.length < 2) continue;
        const ev = [...f.bids.map((b) => ['bid', b.peer, b.at, b.score]), ...f.claims.map((c) => ['claim', c.peer, c.at]), ...f.dones.map((d) => ['done', d.peer, d.at])].sort((a, b) => (a[2] as number) - (b[2] as number));
        const seen = peers.map((p) => f.claims.map((c) => `${c.peer}@${p.document.board.seenAt(s.id, 'claim', c.round, c.peer)}`).join(' '));
        console.log('DUP', s.id, JSON.stringify(ev), peers.map((p) => p.bidWindow()), seen);
      }
    }
    expect(runs).toBe(60);
    // work was spread, not piled on one peer
    expect(peers.filter((p) => p.counters.done > 0).length).toBeGreaterThan(1);
    await Promise.all(peers.map((p) => p.stop()));
  });

  it('runs a task only after its dependencies, with their results as inputs', async () => {
    const peers = mesh(2);
    await Promise.all(peers.map((p) => p.start()));
    const [a, b] = await peers[0]!.submit([{ type: 'double', payload: { n: 2 } }, { type: 'double', payload: { n: 5 } }]);
    const [c] = await peers[1]!.submit({ type: 'sum', dependsOn: [a!.id, b!.id] });
    await until(() => peers.every((p) => p.view(c!.id)?.state === 'done'));
    expect(peers[0]!.view(c!.id)!.result!.result).toBe(14);
    const doneAt = (id: string) => peers[0]!.view(id)!.result!.at;
    expect(doneAt(c!.id)).toBeGreaterThanOrEqual(Math.max(doneAt(a!.id), doneAt(b!.id)));
    await Promise.all(peers.map((p) => p.stop()));
  });

  it('retries a failing task and parks it as dead after maxAttempts with every error kept', async () => {
    const peers = mesh(2);
    await Promise.all(peers.map((p) => p.start()));
    const [spec] = await peers[1]!.submit({ type: 'boom', maxAttempts: 3 });
    await until(() => peers.every((p) => p.view(spec!.id)?.state === 'dead'));
    const v = peers[0]!.view(spec!.id)!;
    expect(v.failures).toBe(3);
    expect(v.errors.map((e) => e.error)).toEqual(['boom', 'boom', 'boom']);
    await Promise.all(peers.map((p) => p.stop()));
  });

  it('a permanent failure (bad input) is dead after one attempt, with its reason', async () => {
    const peers = mesh(2);
    await Promise.all(peers.map((p) => p.start()));
    const [spec] = await peers[1]!.submit({ type: 'picky', maxAttempts: 5 });
    await until(() => peers.every((p) => p.view(spec!.id)?.state === 'dead'));
    const v = peers[0]!.view(spec!.id)!;
    expect(v.attempts).toBe(1);
    expect(v.deadReason).toBe('permanent');
    expect(v.errors.map((e) => e.error)).toEqual(['picky: payload.n must be a number']);
    expect(peers.reduce((n, p) => n + p.counters.failed, 0)).toBe(1);
    await Promise.all(peers.map((p) => p.stop()));
  });

  it('refuses a task with a field it does not know (a misspelt option is not ignored), writing nothing', async () => {
    const [p] = mesh(1);
    await p!.start();
    try {
      const before = p!.document.board.taskCount;
      const err = await p!.submit([{ type: 'echo' }, { type: 'echo', notBefore: 5 } as never]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_TASK', message: 'unknown task field "notBefore" (did you mean delayMs?)' });
      const err2 = await p!.submit({ type: 'echo', colour: 'red' } as never).catch((e: unknown) => e);
      expect(err2).toMatchObject({ code: 'INVALID_TASK', message: 'unknown task field "colour"' });
      expect(p!.document.board.taskCount).toBe(before);
      // The named fields, all of them, are accepted.
      const [spec] = await p!.submit({ type: 'echo', payload: 1, priority: 1, requires: [], prefers: [], dependsOn: [], maxAttempts: 2, timeoutMs: 1000, delayMs: 5, strategy: 'least-load', key: 'k1', exclusive: false });
      expect(spec).toMatchObject({ id: expect.stringMatching(/^k-/), maxAttempts: 2, strategy: 'least-load' });
    } finally {
      await p!.stop();
    }
  });
});
