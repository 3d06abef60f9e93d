// One seeded simulation run: N real Peers in one process, single-threaded, over the simulated
// network, with faults drawn from the seed (partitions, drops, duplicates, reordering, delay,
// crash-restart from each peer's own simulated disk, clock skew). After the fault phase the network
// is made whole and the run must converge within a step budget; then the checks run.
// The same seed gives the same run, event for event.

import { SimKeys } from './keys.js';
import { createRng, quorumOf } from '@agentmesh/scheduler';
import { MemoryArchive, MemoryDisk, MemoryStorage, replicaFingerprint } from '@agentmesh/crdt-store';
import { Peer, idForKey, silentLogger, type PeerTiming, type TaskInput } from '@agentmesh/peer';
import { VirtualScheduler, drainMicrotasks } from './scheduler.js';
import { CALM, SimNetwork } from './network.js';
import { planFaults } from './faults.js';
import { defaultHealBudget } from './heal-budget.js';
import { simAgents, expectedResult, type WorkPayload } from './agents.js';
import { checkRun, debugDump, type CheckReport } from './checks.js';
import { debugFault, debugLogger, watchTask } from './debug-task.js';
import { Reachability } from './reachability.js';
import { RunLedger, describeDuplicate, type DuplicateCauses, type UnjustifiedKinds } from './duplicates.js';

export const FAULT_NAMES = ['partition', 'drop', 'duplicate', 'reorder', 'delay', 'crash', 'skew'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export interface SimConfig {
  seed: number;
  peers: number;
  tasks: number;
  /** Steps of the fault phase. */
  steps: number;
  /** Virtual ms per step. */
  stepMs: number;
  faults: ReadonlySet<FaultName>;
  /** Steps the heal phase may take before the run counts as not converged (default: `defaultHealBudget`). */
  healBudget?: number;
  /** An unjustified duplicate run fails the run (see duplicates.ts); on unless false. */
  strictDuplicates?: boolean;
  /** In-process only (not sent to worker threads): called with the run ledger once the run ends, to inspect every run. */
  inspect?: (ledger: RunLedger) => void;
}

/** The CLI's defaults (the heal budget is derived from peers and tasks: `defaultHealBudget`). */
export const DEFAULT_CONFIG: Omit<SimConfig, 'seed' | 'healBudget' | 'strictDuplicates' | 'inspect'> = {
  peers: 5,
  tasks: 100,
  steps: 1500,
  stepMs: 10,
  faults: new Set(FAULT_NAMES),
};

export interface SimResult extends CheckReport {
  seed: number;
  peers: number;
  tasks: number;
  steps: number;
  converged: boolean;
  healSteps: number;
  crashes: number;
  /** Document generations the mesh went through, and tasks archived (by any peer, counted once). */
  generations: number;
  archived: number;
  generationMovesInPartition: number;
  partitions: number;
  /** Exclusive (quorum) tasks in the workload, their run starts, and broken exclusivity rules. */
  exclusiveTasks: number;
  exclusiveRuns: number;
  exclusiveViolations: number;
  /** Run starts the simulator saw, and duplicate run starts by cause (see duplicates.ts). */
  runStarts: number;
  duplicateCauses: DuplicateCauses;
  /** The unjustified duplicates by what went wrong, and how many started near a generation change. */
  unjustifiedKinds: UnjustifiedKinds;
  unjustifiedNearGeneration: number;
  /** Run starts within 1 s after a generation move: the base rate for `unjustifiedNearGeneration`. */
  runStartsNearGeneration: number;
  /** The first few unjustified duplicates, one line each (task, peers, rounds, times). */
  unjustifiedExamples: string[];
  healBudget: number;
  messages: { sent: number; delivered: number; dropped: number; duplicated: number; bytes: number };
  ok: boolean;
  problems: string[];
}

/** Timing used in the simulator: the real defaults, with a shorter lease so crashes heal quickly. */
const SIM_LEASE_MS = 1500;
const SIM_HEARTBEAT_MS = 250;

export const SIM_TIMING: Partial<PeerTiming> = {
  heartbeatMs: SIM_HEARTBEAT_MS,
  antiEntropyMs: 500,
  lease: { leaseMs: SIM_LEASE_MS, graceMs: 500 },
  backoff: { baseMs: 100, factor: 2, maxMs: 2000, jitter: 0.2 },
  compactEveryRecords: 400,
};

/**
 * Archival in the simulator: short enough that finished tasks leave the live document for the
 * archives several times per run, during partitions and crashes too.
 */
export const SIM_ROLLOVER = { retentionMs: 2000, maxFinished: 15, maxTombstones: 40, checkMs: 250, staggerMs: 400 };

interface SimNode {
  id: string;
  index: number;
  disk: MemoryDisk;
  /** The peer's archive: like its disk, it outlives a crash. */
  archive: MemoryArchive;
  skew: number;
  capacity: number;
  concurrency: number;
  incarnation: number;
  owner: number;
  peer: Peer | undefined;
  /** Data writes waiting for durability: [seq, data key]. */
  pendingData: [number, string][];
}

interface WorkloadTask {
  index: number;
  key: string;
  id: string;
  input: TaskInput;
  payload: WorkPayload;
  acked: boolean;
  nextTryAt: number;
}

export async function runSimulation(config: SimConfig): Promise<SimResult> {
  const { seed, stepMs } = config;
  const root = createRng(seed);
  const netRng = root.fork('net');
  const faultRng = root.fork('faults');
  const workRng = root.fork('workload');
  const sched = new VirtualScheduler();
  const net = new SimNetwork(sched, netRng);
  const faults = config.faults;
  const faultEnd = config.steps * stepMs;
  const problems: string[] = [];
  const ackedData = new Set<string>();
  let crashes = 0;
  let partitions = 0;
  /** Peers moving to a new document generation while a partition was on. */
  let generationMovesInPartition = 0;
  /** Exclusive tasks: who runs each right now, and what went wrong. */
  const exclusiveIds = new Set<string>();
  const exclusiveRunning = new Map<string, Set<string>>();
  const exclusiveProblems: string[] = [];
  let exclusiveRuns = 0;
  const nodes: SimNode[] = Array.from({ length: config.peers }, (_, i) => ({
    id: `p${i}`,
    index: i,
    disk: new MemoryDisk(),
    archive: new MemoryArchive(),
    skew: faults.has('skew') ? faultRng.int(-3000, 3000) : 0,
    capacity: faultRng.int(10, 40), // runs/s: the heal budget assumes the lowest (heal-budget.ts)
    concurrency: faultRng.int(2, 8),
    incarnation: 0,
    owner: 0,
    peer: undefined,
    pendingData: [],
  }));
  /**
   * Who can reach whom, on the simulated network itself (reachability.ts). A peer may start an
   * exclusive run if a majority reached it within the time it takes to notice a loss (half a lease
   * plus a heartbeat): it cannot know sooner, and nobody else ever runs that claim again.
   */
  const reach = new Reachability(nodes.map((n) => n.id), net, () => sched.time);
  const trackMajority = () => reach.update();
  /** Every run start and end, each start judged as it happens: a duplicate, and if so, why. */
  const ledger = new RunLedger(reach, nodes.map((n) => n.id), SIM_LEASE_MS);
  const healBudget = config.healBudget ?? defaultHealBudget(config.peers, config.tasks, config.stepMs);
  const keys = new SimKeys(seed, nodes.map((n) => n.id));

  const startNode = (node: SimNode): void => {
    node.incarnation++;
    node.owner = sched.newOwner();
    const owner = node.owner;
    const clock = sched.clockFor(owner, node.skew);
    const transport = net.attach(node.id);
    const storage = new MemoryStorage(node.disk, { defer: (fn) => void sched.at(root.int(1, 4), fn, owner) });
    const peer = new Peer({
      id: node.id,
      name: `P${node.index}`,
      capacity: node.capacity,
      concurrency: node.concurrency,
      agents: simAgents,
      transport,
      storage,
      clock,
      seed: seed * 1000 + node.index * 37 + node.incarnation,
      meshSeed: seed,
      timing: SIM_TIMING,
      logger: debugLogger(node.id, () => sched.time) ?? silentLogger,
      archive: node.archive,
      rollover: SIM_ROLLOVER,
      trust: keys.trustFor(node.id),
    });
    node.peer = peer;
    node.pendingData = [];
    watchTask(peer, node.id, () => sched.time);
    peer.on('data-write', (e) => node.pendingData.push([e.seq, `${e.namespace}/${e.key}`]));
    const incarnation = node.incarnation;
    peer.on('run-start', (e) => {
      if (process.env.SIM_DEBUG_TASK === e.id) process.stderr.write(`t=${sched.time} ${node.id} run-start round ${e.round}\n`);
      ledger.start(node.id, incarnation, e.id, e.round, sched.time);
      if (!exclusiveIds.has(e.id)) return;
      exclusiveRuns++;
      const set = exclusiveRunning.get(e.id) ?? new Set<string>();
      if (set.size > 0) exclusiveProblems.push(`exclusive task ${e.id} started on ${node.id} while ${[...set].join(',')} ran it`);
      // A minority side never starts one: at least a majority must have reached this peer within
      // the time it takes to notice a loss (half a lease, plus a heartbeat).
      const heard = reach.reachedRecently(node.id, SIM_LEASE_MS / 2 + SIM_HEARTBEAT_MS);
      if (heard < quorumOf(nodes.length)) {
        exclusiveProblems.push(`exclusive task ${e.id} started on ${node.id}, reached by only ${heard} peers lately`);
      }
      set.add(node.id);
      exclusiveRunning.set(e.id, set);
    });
    peer.on('generation', () => {
      ledger.generation(sched.time);
      if (net.partitioned) generationMovesInPartition++;
    });
    peer.on('run-end', (e) => {
      ledger.end(node.id, e.id, e.round, e.outcome, sched.time);
      if (exclusiveIds.has(e.id)) exclusiveRunning.get(e.id)?.delete(node.id);
    });
    peer.on('durable', (e) => {
      node.pendingData = node.pendingData.filter(([seq, key]) => {
        if (seq > e.seq) return true;
        ackedData.add(key);
        return false;
      });
    });
    peer.start().catch((e) => problems.push(`${node.id} failed to start: ${(e as Error).message}`));
    trackMajority();
  };

  const crashNode = (node: SimNode, tear: boolean): void => {
    if (!node.peer) return;
    crashes++;
    node.peer.crash();
    node.peer = undefined;
    ledger.crashed(node.id, sched.time);
    for (const set of exclusiveRunning.values()) set.delete(node.id);
    sched.cancelOwner(node.owner);
    net.detach(node.id);
    node.disk.crash(tear ? { keepBytes: faultRng.int(1, 64) } : undefined);
    trackMajority();
  };

  for (const node of nodes) startNode(node);

  planFaults({
    faults,
    faultEnd,
    rng: faultRng,
    sched,
    net,
    ids: nodes.map((n) => n.id),
    split: (links) => {
      debugFault(sched.time, `split ${JSON.stringify(links)}`);
      partitions++;
      net.setBlocked(links);
      trackMajority();
    },
    heal: () => {
      debugFault(sched.time, 'heal');
      net.setBlocked([]);
      trackMajority();
    },
    isUp: (i) => nodes[i]!.peer !== undefined,
    crash: (i, tear) => {
      debugFault(sched.time, `crash ${nodes[i]!.id}`);
      crashNode(nodes[i]!, tear);
    },
    restart: (i) => {
      debugFault(sched.time, `restart ${nodes[i]!.id}`);
      startNode(nodes[i]!);
    },
  });

  // ---- the workload: a client submitting tasks with idempotency keys, retrying until acked --------
  const work: WorkloadTask[] = [];
  const submitSpan = Math.max(1, Math.floor(faultEnd * 0.9));
  for (let i = 0; i < config.tasks; i++) {
    const key = `sim-${seed}-${i}`;
    const id = idForKey(key);
    const r = workRng.next();
    const payload: WorkPayload = {
      n: i,
      ms: workRng.int(5, 150),
      failTimes: r < 0.03 ? 99 : r < 0.13 ? 1 : 0,
      data: workRng.chance(0.5),
    };
    const dependsOn: string[] = [];
    if (i > 0 && workRng.chance(0.1)) dependsOn.push(work[workRng.int(0, i - 1)]!.id);
    const exclusive = workRng.chance(0.1);
    const input: TaskInput = { type: 'work', key, payload, dependsOn, maxAttempts: 3, ...(exclusive ? { exclusive: true } : {}) };
    if (exclusive) exclusiveIds.add(id);
    work.push({ index: i, key, id, input, payload, acked: false, nextTryAt: Math.floor((i * submitSpan) / config.tasks) });
  }
  const submitDue = (now: number) => {
    for (const w of work) {
      if (w.acked || w.nextTryAt > now) continue;
      const up = nodes.filter((n) => n.peer && !n.peer.isStopped);
      if (up.length === 0) return;
      const node = up[workRng.int(0, up.length - 1)]!;
      w.nextTryAt = now + 1000;
      node.peer!.submit(w.input).then(
        () => {
          w.acked = true;
        },
        () => {},
      );
    }
  };

  // ---- run: fault phase, then heal until converged or out of budget --------------------------------
  for (let step = 0; step < config.steps; step++) {
    submitDue(sched.time);
    await sched.runUntil(sched.time + stepMs, drainMicrotasks);
  }

  // Heal: the network is made whole, everyone who is down comes back.
  net.setBlocked([]);
  net.faults = { ...CALM };
  for (const node of nodes) if (!node.peer) startNode(node);
  trackMajority();
  let converged = false;
  let healSteps = 0;
  let quiet = false;
  for (; healSteps < healBudget; healSteps++) {
    submitDue(sched.time);
    await sched.runUntil(sched.time + stepMs, drainMicrotasks);
    if (healSteps % 5 !== 4) continue;
    const peers = nodes.map((n) => n.peer!);
    if (!quiet) {
      if (!work.every((w) => w.acked)) continue;
      const settled = peers.every((p) => work.every((w) => {
        const v = p.view(w.id);
        // A task missing here may have been archived elsewhere while this peer was away.
        if (!v) return !w.acked || peers.some((q) => q.archived(w.id));
        return v.state === 'done' || v.state === 'dead' || v.state === 'cancelled';
      }));
      if (!settled) continue;
      // Everything is finished everywhere: stop heartbeats so the replicas can reach a fixed point.
      for (const p of peers) p.setQuiet(true);
      quiet = true;
      continue;
    }
    const fp = replicaFingerprint(peers[0]!.document.doc);
    const gen = JSON.stringify(peers[0]!.generation);
    if (peers.every((p) => JSON.stringify(p.generation) === gen && replicaFingerprint(p.document.doc) === fp)) {
      converged = true;
      healSteps++;
      break;
    }
  }

  const peers = nodes.map((n) => n.peer!);
  debugDump(peers);
  const report = checkRun(peers, work.map((w) => ({ id: w.id, acked: w.acked, expected: expectedResult(w.payload), failTimes: w.payload.failTimes, dependsOn: w.input.dependsOn ?? [], exclusive: w.input.exclusive === true })), ackedData);
  if (!converged) problems.push(`did not converge within ${healBudget} heal steps`);
  problems.push(...report.problems);
  for (const id of exclusiveIds) {
    const dups = Math.max(0, ...nodes.map((n) => (n.peer!.view(id) ?? n.peer!.archivedView(id))?.duplicates.length ?? 0));
    if (dups > 0) exclusiveProblems.push(`exclusive task ${id} ran to completion ${dups + 1} times`);
  }
  problems.push(...exclusiveProblems.slice(0, 5));
  const unjustified = ledger.duplicates.filter((d) => d.cause === 'unjustified').map(describeDuplicate);
  if (config.strictDuplicates !== false && unjustified.length > 0) {
    problems.push(...unjustified.slice(0, 5));
    if (unjustified.length > 5) problems.push(`${unjustified.length - 5} more unjustified duplicate runs`);
  }
  for (const p of peers) p.crash();
  config.inspect?.(ledger);
  const ok = converged && problems.length === 0;
  const exclusiveViolations = exclusiveProblems.length;
  return {
    seed,
    peers: config.peers,
    tasks: config.tasks,
    steps: config.steps,
    converged,
    lostTasks: report.lostTasks,
    lostData: report.lostData,
    tasksWithoutOneWinner: report.tasksWithoutOneWinner,
    duplicateRuns: report.duplicateRuns,
    completed: report.completed,
    healSteps,
    dead: report.dead,
    stuck: report.stuck,
    wrongResults: report.wrongResults,
    crashes,
    partitions,
    generations: Math.max(...peers.map((p) => p.generation.n)),
    archived: new Set(nodes.flatMap((n) => [...n.archive.ids()])).size,
    generationMovesInPartition,
    exclusiveTasks: exclusiveIds.size,
    exclusiveRuns,
    exclusiveViolations,
    runStarts: ledger.starts,
    duplicateCauses: { ...ledger.causes },
    unjustifiedKinds: { ...ledger.kinds },
    unjustifiedNearGeneration: ledger.unjustifiedNearGeneration,
    runStartsNearGeneration: ledger.startsNearGeneration,
    unjustifiedExamples: unjustified.slice(0, 5),
    healBudget,
    messages: { ...net.stats },
    problems,
    ok,
  };
}
