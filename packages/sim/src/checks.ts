// The invariants every simulation run must hold once healed: no acknowledged task or data write
// lost, one canonical result per finished task that every replica agrees on (and that is right),
// nothing stuck, duplicate runs counted (every replica counting the same).

import * as Y from 'yjs';
import { replicaFingerprint } from '@agentmesh/crdt-store';
import type { Peer } from '@agentmesh/peer';

export interface CheckReport {
  lostTasks: number;
  lostData: number;
  tasksWithoutOneWinner: number;
  duplicateRuns: number;
  completed: number;
  dead: number;
  stuck: number;
  wrongResults: number;
  problems: string[];
}

export interface ExpectedTask {
  id: string;
  acked: boolean;
  expected: unknown;
  failTimes: number;
  dependsOn: string[];
  /** Exclusive tasks may also end dead because a run was interrupted (at most once). */
  exclusive?: boolean;
}

const MAX_LISTED = 5;

export function checkRun(peers: Peer[], tasks: ExpectedTask[], ackedData: ReadonlySet<string>): CheckReport {
  const r: CheckReport = { lostTasks: 0, lostData: 0, tasksWithoutOneWinner: 0, duplicateRuns: 0, completed: 0, dead: 0, stuck: 0, wrongResults: 0, problems: [] };
  const note = (msg: string) => {
    if (r.problems.length < MAX_LISTED) r.problems.push(msg);
  };
  const stateOf = new Map<string, string>();
  for (const t of tasks) {
    // Each replica's view: from its live document, or from its archive once the task left it.
    const all = peers.map((p) => p.view(t.id) ?? p.archivedView(t.id));
    const views = all.filter((v) => v !== undefined);
    const archivedSomewhere = peers.some((p) => p.archived(t.id));
    // A peer that was away while a task finished and left the live document never sees it: that
    // is not a loss as long as some archive has it.
    if (views.length === 0 || (views.length < peers.length && !archivedSomewhere)) {
      if (t.acked) {
        r.lostTasks++;
        note(`task ${t.id} acknowledged but missing on ${peers.filter((_, i) => !all[i]).map((p) => p.id).join(',')}`);
      }
      continue;
    }
    const states = new Set(views.map((v) => v!.state));
    const v0 = views[0]!;
    if (states.size > 1 || (v0.state !== 'done' && v0.state !== 'dead' && v0.state !== 'cancelled')) {
      r.stuck++;
      const how = v0.claim ? `, round ${v0.round} claimed by ${v0.claim.peer}` : v0.assignee ? `, round 1 assigned to ${v0.assignee}` : `, round ${v0.round}`;
      note(`task ${t.id} not settled: ${[...states].join('/')}${how}${v0.lapsed ? ' (lapsed)' : ''}`);
      continue;
    }
    stateOf.set(t.id, v0.state);
    if (v0.state === 'dead') r.dead++;
    if (v0.state !== 'done') continue;
    r.completed++;
    r.duplicateRuns += v0.duplicates.length;
    // Every replica holds every run once converged, live or archived (a run that ended after the
    // task left the live document is archived again with it).
    const dups = views.map((v) => v!.duplicates.length);
    if (dups.some((d) => d !== dups[0])) note(`task ${t.id}: replicas count different duplicate runs ${dups.join('/')}`);
    const canon = views.map((v) => (v!.result ? `${v!.result.peer}@${v!.result.round}:${JSON.stringify(v!.result.result)}` : 'none'));
    if (canon.some((c) => c !== canon[0]) || !v0.result) {
      r.tasksWithoutOneWinner++;
      note(`task ${t.id} has no single canonical result: ${[...new Set(canon)].join(' | ')}`);
      continue;
    }
    if (JSON.stringify(v0.result.result) !== JSON.stringify(t.expected)) {
      r.wrongResults++;
      note(`task ${t.id} result ${JSON.stringify(v0.result.result)} != expected ${JSON.stringify(t.expected)}`);
    }
  }
  // A task that can never succeed must be dead, and so must its dependents; the rest must be done.
  for (const t of tasks) {
    const st = stateOf.get(t.id);
    if (st === undefined) continue;
    const mustDie = t.failTimes >= 3 || t.dependsOn.some((d) => stateOf.get(d) === 'dead');
    const interrupted = t.exclusive && st === 'dead' && peers.some((p) => (p.view(t.id) ?? p.archivedView(t.id))?.deadReason === 'interrupted');
    if (mustDie !== (st === 'dead') && !interrupted) {
      r.wrongResults++;
      note(`task ${t.id} ended ${st} but should be ${mustDie ? 'dead' : 'done'}`);
    }
  }
  // Every peer signs and checks every entry: none written by these honest peers may be refused.
  for (const p of peers) {
    const c = p.trust?.counts;
    if (c && c.badSignature + c.wrongAuthor + c.removedAuthor > 0) note(`${p.id} refused entries of honest peers: ${JSON.stringify(c)}`);
  }
  for (const key of ackedData) {
    const slash = key.indexOf('/');
    const missing = peers.filter((p) => !p.document.board.getData(key.slice(0, slash), key.slice(slash + 1)));
    if (missing.length > 0) {
      r.lostData++;
      note(`data ${key} acknowledged but missing on ${missing.map((p) => p.id).join(',')}`);
    }
  }
  return r;
}

/** Prints every replica's view and facts of one task to stderr (SIM_DEBUG_TASK=<id>, for debugging a seed). */
export function dumpTask(peers: Peer[], id: string): void {
  for (const p of peers) {
    const v = p.view(id);
    const f = p.document.board.getFacts(id);
    const spec = f ? { ...f.spec, payload: undefined } : undefined;
    const rec = p.archived(id);
    const archived = rec ? { state: rec.state, peer: rec.peer, gen: rec.gen, archivedAt: rec.archivedAt, facts: Object.keys(rec.facts) } : undefined;
    process.stderr.write(`${p.id}: ${JSON.stringify({ state: v?.state, round: v?.round, assignee: f?.assignee, bids: v?.bids, claims: f?.claims, expiries: f?.expiries, fails: f?.fails, spec, archived })}\n`);
  }
}

/** Debugging a seed: SIM_DEBUG_TASK=<id> prints one task on every replica, SIM_DEBUG_CONVERGE=1 every replica's document summary. */
export function debugDump(peers: Peer[]): void {
  if (process.env.SIM_DEBUG_TASK) dumpTask(peers, process.env.SIM_DEBUG_TASK);
  if (!process.env.SIM_DEBUG_CONVERGE) return;
  for (const p of peers) {
    const sv = JSON.stringify([...Y.decodeStateVector(Y.encodeStateVector(p.document.doc))]);
    process.stderr.write(`${p.id} gen ${p.status().generation.name} fp ${replicaFingerprint(p.document.doc).slice(0, 40)} tasks ${p.document.board.taskCount} entries ${p.document.board.entryCount()} sv ${sv}\n`);
  }
  // Task ids not held by every replica's board.
  const held = peers.map((p) => new Set(p.document.board.taskIds()));
  const all = new Set(held.flatMap((h) => [...h]));
  for (const id of all) {
    const on = peers.filter((_, i) => held[i]!.has(id)).map((p) => p.id);
    if (on.length !== peers.length) process.stderr.write(`task ${id} only on ${on.join(',')}\n`);
  }
}
