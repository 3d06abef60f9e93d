// Everything the dashboard shows about tasks, derived from the page's own replica with the same pure
// rules every peer applies (deriveTask from @agentmesh/scheduler, docs/doc-schema.md): states,
// winners, attempts, dead letters and duplicate runs. Nothing here is stored or sent anywhere.

import { DEFAULT_BACKOFF, DEFAULT_LEASE, TASK_STATES, deriveTask, isTerminal, type TaskFacts, type TaskState, type TaskView } from '@agentmesh/scheduler';
import type { TaskBoard } from '@agentmesh/crdt-store';

export interface TaskRow {
  id: string;
  type: string;
  state: TaskState;
  createdAt: number;
  createdBy: string;
  winner: string | null;
  bids: number;
  attempts: number;
  /** Run time of the canonical result (ms), or time running so far. */
  ms: number | null;
  result: unknown;
  payload: unknown;
  duplicates: string[];
  lastError: string | null;
  deadReason: string | null;
  doneAt: number | null;
}

export interface BoardSnapshot {
  rows: TaskRow[];
  counts: Record<TaskState, number>;
  total: number;
  duplicateRuns: number;
  /** Canonical results per peer id (who did the work, as this replica sees it). */
  donePerPeer: Map<string, number>;
  types: string[];
}

/** The lease a replica applies when it judges liveness (the peers' default). */
export const LEASE_MS = DEFAULT_LEASE.leaseMs;

/** Derives every task; views of finished tasks are cached until their facts change. */
export class Deriver {
  private cache = new Map<string, { facts: TaskFacts; view: TaskView }>();

  constructor(private readonly board: TaskBoard) {}

  name(peerId: string | undefined | null): string | null {
    if (!peerId) return null;
    return this.board.peer(peerId)?.name ?? peerId.slice(-6);
  }

  alive(peerId: string, now = Date.now()): boolean {
    const seen = this.board.beatSeenAt(peerId);
    return seen !== undefined && now - seen <= LEASE_MS;
  }

  snapshot(now = Date.now()): BoardSnapshot {
    const board = this.board;
    const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    const memo = new Map<string, TaskState | undefined>();
    const rows: TaskRow[] = [];
    const donePerPeer = new Map<string, number>();
    const types = new Set<string>();
    let duplicateRuns = 0;
    const seenIds = new Set<string>();

    const derive = (id: string, facts: TaskFacts, depth: number): TaskView => {
      const hit = this.cache.get(id);
      if (hit && hit.facts === facts) return hit.view;
      const view = deriveTask(facts, {
        now,
        taskSeenAt: board.taskSeenAt(id),
        seenAt: (kind, round, peer) => board.seenAt(id, kind, round, peer),
        lastSeen: (peer) => board.beatSeenAt(peer),
        depState: (dep) => {
          if (memo.has(dep)) return memo.get(dep);
          memo.set(dep, undefined);
          const f = board.getFacts(dep);
          const st = f && depth < 64 ? derive(dep, f, depth + 1).state : undefined;
          memo.set(dep, st);
          return st;
        },
        lease: DEFAULT_LEASE,
        backoff: DEFAULT_BACKOFF,
        seed: 0,
      });
      if (isTerminal(view.state)) this.cache.set(id, { facts, view });
      else this.cache.delete(id);
      return view;
    };

    for (const id of board.taskIds()) {
      const facts = board.getFacts(id);
      if (!facts) continue;
      seenIds.add(id);
      const v = derive(id, facts, 0);
      memo.set(id, v.state);
      counts[v.state]++;
      duplicateRuns += v.duplicates.length;
      types.add(facts.spec.type);
      const winnerId = v.result?.peer ?? v.claim?.peer;
      if (v.result) donePerPeer.set(v.result.peer, (donePerPeer.get(v.result.peer) ?? 0) + 1);
      let ms: number | null = v.result ? v.result.ms : null;
      if (v.state === 'running' && v.claim) ms = now - board.seenAt(id, 'claim', v.round, v.claim.peer);
      rows.push({
        id,
        type: facts.spec.type,
        state: v.state,
        createdAt: facts.spec.createdAt,
        createdBy: facts.spec.createdBy,
        winner: this.name(winnerId),
        bids: facts.bids.length,
        attempts: v.attempts,
        ms,
        result: v.result?.result ?? null,
        payload: facts.spec.payload,
        duplicates: v.duplicates.map((d) => this.name(d.peer) ?? d.peer),
        lastError: v.errors.at(-1)?.error ?? null,
        deadReason: v.deadReason ?? null,
        doneAt: v.result?.at ?? null,
      });
    }
    if (this.cache.size > seenIds.size) for (const id of this.cache.keys()) if (!seenIds.has(id)) this.cache.delete(id);
    return { rows, counts, total: rows.length, duplicateRuns, donePerPeer, types: [...types].sort() };
  }
}

/** A one-line, human summary of a task's result, by agent type. */
export function summarize(type: string, result: unknown): string {
  if (result === null || result === undefined) return '';
  const r = result as Record<string, unknown>;
  try {
    if (type === 'traffic.forecast') {
      const f = (r.forecast as number[] | undefined) ?? [];
      const plan = r.signalPlan as { greenSeconds?: number } | undefined;
      return `${String(r.junction)}: ${String(r.model)} → ${f.map((x) => Math.round(x)).join(', ')} veh/h; green ${plan?.greenSeconds ?? '?'} s`;
    }
    if (type === 'factory.anomaly') {
      return `${String(r.machine)}: ${String(r.status)} (max |z| ${Number(r.maxScore).toFixed(1)}${(r.anomalies as unknown[] | undefined)?.length ? `, ${(r.anomalies as unknown[]).length} anomal.` : ''})`;
    }
    if (type === 'clinic.triage') return `${String(r.patient)}: NEWS2 ${String(r.score)}, ${String(r.risk)} risk`;
  } catch {
    /* fall through to JSON */
  }
  const s = JSON.stringify(result);
  return s.length > 90 ? `${s.slice(0, 87)}...` : s;
}
