// `status` counts live tasks from totals the views keep as the main loop derives them (a status call
// used to derive or look up every live task: O(tasks), a few ms per read at 10,000 tasks, read every
// 100 ms by the heal bench and by dashboards). These tests hold the totals to a full recount (every
// live task derived, the archived ones added, each task once) while three peers submit, run, fail,
// retry, cancel and archive, and check the case a finished task is both live and archived.
import { describe, expect, it } from 'vitest';
import { MemoryArchive, MemoryDisk, MemoryStorage, type Archive, type ArchiveRecord } from '@agentmesh/crdt-store';
import { isTerminal, TASK_STATES, type TaskState, type TaskView } from '@agentmesh/scheduler';
import { MemoryHub, Peer, systemClock, type AgentHandler } from '../src/index.js';
import type { PeerContext } from '../src/peer/context.js';
import { Views } from '../src/peer/views.js';
import { FAST_TIMING, until } from './helpers.js';

/** What status said before the totals: every live task derived now, the archive's added, each task once. */
function recount(p: Peer, archive: Archive): { tasks: Record<TaskState, number>; duplicateRuns: number } {
  const tasks = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  let duplicateRuns = 0;
  const overlap = { done: 0, dead: 0, cancelled: 0 };
  let overlapDups = 0;
  for (const v of p.views()) {
    tasks[v.state]++;
    duplicateRuns += v.duplicates.length;
    const rec = isTerminal(v.state) ? archive.summary?.(v.id) : undefined;
    if (rec) {
      overlap[rec.state]++;
      overlapDups += rec.duplicates;
    }
  }
  const a = archive.counts();
  for (const s of ['done', 'dead', 'cancelled'] as const) tasks[s] += a[s] - overlap[s];
  duplicateRuns += (archive.duplicateRuns?.() ?? 0) - overlapDups;
  return { tasks, duplicateRuns };
}

// Fails every third task on its first attempt (a retry round follows); the rest echo.
const flaky: AgentHandler = async (payload, ctx) => {
  const i = (payload as { i: number }).i;
  if (i % 3 === 0 && ctx.attempt === 1) throw new Error(`task ${i} fails once`);
  return payload;
};

describe('status counts', () => {
  it('equal a full recount while three peers submit, run, retry, cancel and archive', async () => {
    const hub = new MemoryHub();
    const archives = [new MemoryArchive(), new MemoryArchive(), new MemoryArchive()];
    const peers = ['pa', 'pb', 'pc'].map(
      (id, i) =>
        new Peer({
          id, name: id.toUpperCase(), capacity: 50 + 50 * i, agents: { echo: flaky }, transport: hub.join(id),
          storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: 7 + i, timing: FAST_TIMING, archive: archives[i]!,
          // Capacities are task rates (50, 100, 150 / s): the 200 tasks take a second or two, and
          // finished ones leave the live document while others still run.
          rollover: { retentionMs: 60_000, maxFinished: 40, maxTombstones: 1_000_000, forgetPeersAfterMs: 5000, checkMs: 300, staggerMs: 50 },
        }),
    );
    for (const p of peers) await p.start();
    try {
      const check = (when: string) => {
        for (const [i, p] of peers.entries()) expect(p.status(), `${p.name} ${when}`).toMatchObject(recount(p, archives[i]!));
      };
      const ids: string[] = [];
      for (let b = 0; b < 8; b++) {
        const p = peers[b % 3]!;
        ids.push(...(await p.submit(Array.from({ length: 25 }, (_, i) => ({ type: 'echo', payload: { i: b * 25 + i }, maxAttempts: 3 })))).map((s) => s.id));
        // Read right after a submit (the new tasks not yet looked at by any pass) and mid-run.
        check(`after batch ${b}`);
        await new Promise((r) => setTimeout(r, 30));
        check(`mid-run ${b}`);
      }
      // Tasks submitted with a far start are cancelled: a terminal state other than done.
      const later = await peers[0]!.submit(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: { i: 1000 + i }, delayMs: 60_000 })));
      for (const t of later) await peers[0]!.cancel(t.id);
      check('after cancels');
      const seen = () => peers.map((p) => `${p.name} ${JSON.stringify(p.status().tasks)} recount ${JSON.stringify(recount(p, archives[peers.indexOf(p)]!).tasks)}`).join('; ');
      await until(() => peers.every((p) => p.status().tasks.done === 200 && p.status().tasks.cancelled === 5), 30_000, 'every peer to count 200 done and 5 cancelled').catch((e: Error) => {
        const p0 = peers[0]!, a0 = archives[0]!;
        const liveDone = p0.views().filter((v) => v.state === 'done').map((v) => v.id);
        const later0 = later.map((t) => t.id);
        const info = later0.map((id) => `${id}: live ${p0.views().find((v) => v.id === id)?.state} arch ${a0.summary?.(id)?.state} ${JSON.stringify(a0.get?.(id))}`).join('\n');
        throw new Error(`${e.message}: ${seen()}\nliveDone ${liveDone.length} arch ${JSON.stringify(a0.counts())}\n${info}`);
      });
      // A batch of 25 leaves the live document only whole, and the newest 40 finished tasks (retries
      // among them, spread over the batches) stay: at least one batch and the cancelled five leave.
      await until(() => archives.every((a) => a.counts().done >= 25 && a.counts().cancelled === 5), 30_000, 'every archive to hold a batch and the cancelled tasks').catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(archives.map((a) => a.counts()))}; live ${JSON.stringify(peers.map((p) => p.views().length))}`);
      });
      check('at the end');
      const st = peers[0]!.status();
      expect(st.tasks.done + st.tasks.cancelled).toBe(205);
      expect(st.archived.total).toBeGreaterThanOrEqual(30);
    } finally {
      for (const p of peers) await p.stop();
    }
  }, 60_000);

  it('stop counting a task that leaves the board without archival (its entry overwritten by one that does not count)', async () => {
    const p = new Peer({ id: 'pa', name: 'PA', capacity: 10, agents: { echo: (x) => x }, transport: new MemoryHub().join('pa'), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: 1, timing: FAST_TIMING });
    await p.start();
    try {
      p.setQuiet(true); // nothing runs
      const [spec] = await p.submit({ type: 'echo', payload: 1 });
      p.document.board.putTask({ ...spec!, id: 'solo-1' });
      // The submitted one is assigned here (claimed, not started while quiet); the single entry is pending.
      await until(() => p.status().tasks.pending === 1 && p.status().tasks.claimed === 1, 5000);
      // A peer overwrites the single entry with a value that is not a task: the task leaves the board.
      p.document.doc.getMap('tasks').set('solo-1', 42);
      expect(p.document.board.getFacts('solo-1')).toBeUndefined();
      expect(p.status().tasks).toMatchObject({ pending: 0, claimed: 1 }); // before the main loop's next pass
      await new Promise((r) => setTimeout(r, 300)); // after it
      expect(p.status().tasks).toMatchObject({ pending: 0, claimed: 1, running: 0, done: 0 });
    } finally {
      await p.stop();
    }
  });

  it('keep a finished live task the archive holds too, and forget it when it leaves', async () => {
    const archive = new MemoryArchive();
    const spec = { id: 't-x', type: 'echo', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3, timeoutMs: 0, createdAt: 1, createdBy: 'pa', notBefore: 0, strategy: 'capacity-weighted' };
    const rec: ArchiveRecord = { id: 't-x', spec, facts: {}, state: 'done', finishedAt: 3, result: 1, peer: 'pa', attempts: 1, gen: 'g', archivedAt: 4 };
    await archive.append([rec]);
    // Only note() and forget() are called: they read whether anyone listens for 'task' events.
    const ctx = { listens: () => false, emit: () => {} } as unknown as PeerContext;
    const views = new Views(ctx, archive, () => undefined);
    const view = (state: TaskState, dups: number) => ({ id: 't-x', state, round: 1, duplicates: Array.from({ length: dups }, () => ({})) }) as unknown as TaskView;
    views.note('t-x', view('running', 0));
    expect([...views.alsoArchived()]).toEqual([]);
    views.note('t-x', view('done', 2));
    expect([...views.alsoArchived()]).toEqual(['t-x']);
    expect(views.counts()).toMatchObject({ tasks: { done: 1, running: 0 }, duplicateRuns: 2 });
    views.note('t-y', view('pending', 0));
    expect(views.counts()).toMatchObject({ tasks: { done: 1, pending: 1 }, duplicateRuns: 2 });
    views.forget('t-x');
    expect([...views.alsoArchived()]).toEqual([]);
    expect(views.counts()).toMatchObject({ tasks: { done: 0, pending: 1 }, duplicateRuns: 0 });
    views.forget('t-y');
    views.forget('t-y');
    expect(views.counts().tasks).toEqual({ pending: 0, claimed: 0, running: 0, done: 0, dead: 0, cancelled: 0 });
  });
});
