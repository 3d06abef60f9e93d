// Why: partition tolerance has a price at heal time. Two halves of the mesh work apart, then
// heal; this measures the sync bytes the peers send and the time until every peer agrees, and
// compares them with the least possible: the two Yjs diffs between the halves' documents.
import { TaskBoard } from '@agentmesh/crdt-store';
import { performance } from 'node:perf_hooks';
import * as Y from 'yjs';
import type { Config } from '../args.js';
import { Mesh, submitSpread } from '../mesh.js';
import { log, sleep, until } from '../procs.js';
import { percentile, round } from '../stats.js';
import { connectDoc, copyDoc } from '../ydoc.js';

export interface HealResult {
  peers: number;
  tasksPerSide: number;
  bytes: number;
  messages: number;
  ms: number;
  minimalDiffBytes: number;
  minimalDiffApplyMs: number;
  bytesRatio: number;
  /**
   * Per receiver: what it received during the heal against its own minimal diff (the other half's
   * diff against its half's document), and how long it took to hold every task of both halves
   * (`healMs`, polled every HEAL_POLL_MS) against applying its own minimal diff into a replica with
   * the board's index (`applyMs`).
   */
  receivers: { peer: number; side: 'A' | 'B'; receivedBytes: number; minimalBytes: number; ratio: number; healMs: number; applyMs: number; timeRatio: number }[];
  /** Total definition of the heal time: until every peer agrees, against the slower side's minimal diff applied into an indexed replica (replicaApplyMs). */
  timeRatioTotal: number;
  /** Per-receiver definition: the largest receiver's healMs / applyMs. */
  timeRatioMax: number;
  /** Bytes received by all peers together / the sum of every receiver's minimal diff. */
  receivedRatioTotal: number;
  /** The largest receiver's ratio. */
  receivedRatioMax: number;
  /** One receiver applying its minimal diff into a replica with the task board's index (ms, the slower side). */
  replicaApplyMs: number;
  docBytesA: number;
  docBytesB: number;
  sideMs: number;
}

/** Applies of each receiver's minimal diff timed for its reference (the median counts). */
const REFERENCE_RUNS = 5;

/** How often the peers' status is read after the heal request (the heal times' resolution). */
const HEAL_POLL_MS = 100;

export async function runHeal(cfg: Config): Promise<HealResult> {
  const n = cfg.healPeers;
  const half = Math.floor(n / 2);
  const A = Array.from({ length: half }, (_, i) => i);
  const B = Array.from({ length: n - half }, (_, i) => half + i);
  const mesh = await Mesh.start('heal', {
    capacities: Array(n).fill(1_000_000),
    concurrency: cfg.peerConcurrency,
    agents: ['echo'],
    extraBootstrap: (i) => (i > half ? half : undefined),
    // No archival here: the measure compares the heal with the Yjs diff between the two halves'
    // whole documents, which a generation change in the middle would replace.
    peerArgs: ['--max-finished', '10000000', '--max-doc-bytes', '2147483647', '--retention-ms', String(365 * 24 * 3600 * 1000)],
  });
  try {
    const ids = mesh.peers.map((p) => p.ready.peerId);
    await Promise.all([
      ...A.map((i) => mesh.post(i, '/api/partition', { block: B.map((j) => ids[j]) })),
      ...B.map((i) => mesh.post(i, '/api/partition', { block: A.map((j) => ids[j]) })),
    ]);
    await mesh.waitFullMesh(30_000, (i) => (i < half ? A.length : B.length));
    log(`heal: partitioned into ${A.length} + ${B.length} peers; ${cfg.healTasks} tasks per side`);
    const t0 = Date.now();
    const [idsA, idsB] = await Promise.all([
      submitSpread(mesh, cfg.healTasks, cfg.batch, (i) => ({ type: 'echo', payload: { side: 'A', i } }), A),
      submitSpread(mesh, cfg.healTasks, cfg.batch, (i) => ({ type: 'echo', payload: { side: 'B', i } }), B),
    ]);
    const deadline = Math.max(60_000, cfg.healTasks * 60);
    await mesh.waitDone([...idsA, ...idsB], deadline);
    await until(
      'each side to agree within itself',
      async () => {
        const ss = await mesh.statuses();
        return ss.every((s) => s.tasks.done === cfg.healTasks && (s.tasks.pending ?? 0) + (s.tasks.claimed ?? 0) + (s.tasks.running ?? 0) === 0);
      },
      deadline,
      300,
    );
    const sideMs = Date.now() - t0;
    log(`heal: both sides done with their ${cfg.healTasks} tasks in ${sideMs} ms; copying each side's document`);
    const [ca, cb] = await Promise.all([connectDoc(mesh.peers[A[0]!]!.ready.wsUrl), connectDoc(mesh.peers[B[0]!]!.ready.wsUrl)]);
    let docA: Y.Doc;
    let docB: Y.Doc;
    try {
      const boards = [ca, cb].map((c) => new TaskBoard(c.doc, { now: () => Date.now() }));
      await until('client copies to hold every task', () => boards.every((b) => b.taskCount >= cfg.healTasks), 20_000, 50);
      await sleep(500);
      docA = copyDoc(ca.doc);
      docB = copyDoc(cb.doc);
    } finally {
      ca.close();
      cb.close();
    }
    const before = await mesh.statuses();
    const bytes0 = before.reduce((a, s) => a + s.sync.sentBytes, 0);
    const received0 = before.map((s) => s.sync.receivedBytes);
    const msgs0 = before.reduce((a, s) => a + s.sync.sentMessages, 0);
    const h0 = Date.now();
    await Promise.all(mesh.peers.map((_, i) => mesh.post(i, '/api/heal', {})));
    // When each peer first showed every task of both halves done (the per-receiver heal time).
    // Each peer is read on its own, every HEAL_POLL_MS: a read of all six at once waited for the
    // busiest one (a peer in the middle of its apply answers hundreds of ms late) and charged that
    // wait to every receiver.
    const healDeadline = Math.max(60_000, cfg.healTasks * 20);
    const healedMs: (number | undefined)[] = mesh.peers.map(() => undefined);
    const held: string[] = [];
    await Promise.all(
      mesh.peers.map((_, i) =>
        until(
          `peer ${i + 1} to hold both halves after heal`,
          async () => {
            const s = await mesh.status(i);
            if (s.tasks.done !== 2 * cfg.healTasks) return false;
            healedMs[i] = Date.now() - h0;
            held[i] = JSON.stringify(s.tasks);
            return true;
          },
          healDeadline,
          HEAL_POLL_MS,
        ),
      ),
    );
    // Every peer agrees once each holds both halves with the same counts (a disagreement, never
    // seen, is waited out and timed from the heal like before).
    let ms = Math.max(...healedMs.map((t) => t ?? 0));
    if (held.some((k) => k !== held[0])) {
      await until(
        'every peer to agree after heal',
        async () => {
          const ss = await mesh.statuses();
          const key = JSON.stringify(ss[0]!.tasks);
          return ss.every((s) => s.tasks.done === 2 * cfg.healTasks && JSON.stringify(s.tasks) === key);
        },
        healDeadline,
        HEAL_POLL_MS,
      );
      ms = Date.now() - h0;
    }
    // Bytes until now (a little after the last peer agreed: never fewer than the heal sent).
    const after = await mesh.statuses();
    const bytes = after.reduce((a, s) => a + s.sync.sentBytes, 0) - bytes0;
    const messages = after.reduce((a, s) => a + s.sync.sentMessages, 0) - msgs0;
    // The references are timed with the peers stopped: applying a diff on a machine that six busy
    // peers share measured 29-100 ms for the same diff from one run to the next.
    await mesh.stop();
    // The least a heal could send: what each side lacks of the other, as one Yjs diff each way.
    const diffAB = Y.encodeStateAsUpdate(docA, Y.encodeStateVector(docB));
    const diffBA = Y.encodeStateAsUpdate(docB, Y.encodeStateVector(docA));
    const a2 = copyDoc(docA);
    const b2 = copyDoc(docB);
    const p0 = performance.now();
    Y.applyUpdate(a2, diffBA);
    Y.applyUpdate(b2, diffAB);
    const applyMs = performance.now() - p0;
    const minimal = diffAB.byteLength + diffBA.byteLength;
    // A receiver's own minimal diff: a peer of half A lacks diffBA, one of half B lacks diffAB.
    // Applying into a replica that indexes the board, as a peer does (no disk, no signatures).
    const replicaApply = (base: Y.Doc, diff: Uint8Array) => {
      const d = copyDoc(base);
      const board = new TaskBoard(d, { now: () => 0 });
      const t = performance.now();
      Y.applyUpdate(d, diff, 'remote');
      const ms = performance.now() - t;
      if (board.taskCount < 2 * cfg.healTasks) log(`heal: replica apply indexed ${board.taskCount} tasks`);
      d.destroy();
      return ms;
    };
    // A peer of half A applies diffBA, one of half B applies diffAB: each receiver's own reference,
    // the median of REFERENCE_RUNS applies (the first warms the code up like a peer's is warm).
    const applyA = percentile(Array.from({ length: REFERENCE_RUNS }, () => replicaApply(docA, diffBA)), 50);
    const applyB = percentile(Array.from({ length: REFERENCE_RUNS }, () => replicaApply(docB, diffAB)), 50);
    const replicaApplyMs = Math.max(applyA, applyB);
    const receivers = after.map((s, i) => {
      const side = i < half ? ('A' as const) : ('B' as const);
      const receivedBytes = s.sync.receivedBytes - received0[i]!;
      const minimalBytes = side === 'A' ? diffBA.byteLength : diffAB.byteLength;
      const healMs = healedMs[i] ?? ms;
      const applyMs = side === 'A' ? applyA : applyB;
      return { peer: i, side, receivedBytes, minimalBytes, ratio: round(receivedBytes / minimalBytes), healMs, applyMs: round(applyMs), timeRatio: round(healMs / Math.max(round(applyMs), 0.001)) };
    });
    const receivedTotal = receivers.reduce((a, r) => a + r.receivedBytes, 0);
    const minimalTotal = receivers.reduce((a, r) => a + r.minimalBytes, 0);
    const r: HealResult = {
      peers: n,
      tasksPerSide: cfg.healTasks,
      bytes,
      messages,
      ms,
      minimalDiffBytes: minimal,
      minimalDiffApplyMs: round(applyMs),
      bytesRatio: round(bytes / minimal),
      receivers,
      receivedRatioTotal: round(receivedTotal / minimalTotal),
      receivedRatioMax: Math.max(...receivers.map((r) => r.ratio)),
      replicaApplyMs: round(replicaApplyMs),
      // From the reference as reported (rounded), so the ratio is the reported figures' own.
      timeRatioTotal: round(ms / Math.max(round(replicaApplyMs), 0.001)),
      timeRatioMax: Math.max(...receivers.map((r) => r.timeRatio)),
      docBytesA: Y.encodeStateAsUpdate(docA).byteLength,
      docBytesB: Y.encodeStateAsUpdate(docB).byteLength,
      sideMs,
    };
    for (const d of [docA, docB, a2, b2]) d.destroy();
    log(`heal: ${bytes} bytes in ${messages} messages, converged in ${ms} ms; minimal diff ${minimal} bytes, applied in ${r.minimalDiffApplyMs} ms (${r.replicaApplyMs} ms into an indexed replica); received / own minimal diff: total ${r.receivedRatioTotal}, worst peer ${r.receivedRatioMax}; time: ${r.timeRatioTotal}x total, ${r.timeRatioMax}x worst receiver (${receivers.map((x) => `${x.healMs} vs ${x.applyMs} ms`).join(', ')})`);
    return r;
  } finally {
    await mesh.stop();
  }
}
