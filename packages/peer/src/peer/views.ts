// Tasks as this replica sees them: each derived from its write-once facts by the pure lifecycle
// rules (live ones from the board, finished ones from the archive), and the state and duplicate
// runs each task had when the main loop last looked at it, with their totals kept as they change
// (status counts come from those, so a status call costs the tasks changed since the last pass,
// not the board). It emits the 'task' event on state changes.

import { TASK_STATES, deriveTask, isTerminal, type RoundCandidate, type TaskFacts, type TaskState, type TaskView } from '@agentmesh/scheduler';
import { boardDeriveContext, factsFromRecord, type Archive, type TaskBoard } from '@agentmesh/crdt-store';
import type { PeerContext } from './context.js';

/** States of dependencies derived within one pass (and a guard against dependency cycles). */
export type DeriveMemo = Map<string, TaskState | undefined>;

export class Views {
  /** The state of each live task when it was last derived by the main loop. */
  private readonly lastState = new Map<string, TaskState>();
  /** Duplicate runs of each task as last derived (for status()). */
  private readonly dupCount = new Map<string, number>();
  /** How many live tasks are in each state of `lastState`, kept as it changes. */
  private readonly stateCount = Object.fromEntries(TASK_STATES.map((st) => [st, 0])) as Record<TaskState, number>;
  /** The sum of `dupCount`. */
  private dupTotal = 0;
  /**
   * Finished live tasks that the archive held when the main loop first saw them finished (a task
   * written back or restored at a generation change): counted once by status. The archive takes
   * in a task only as it leaves the live document, when it is forgotten here, so this set stays exact.
   */
  private readonly archivedToo = new Set<string>();

  constructor(
    private readonly ctx: PeerContext,
    private readonly archive: Archive,
    /** When this replica last saw a peer alive (its clock): what leases are measured by. */
    private readonly lastSeen: (peer: string) => number | undefined,
  ) {}

  /** Derives task `id` from its facts; dependencies are derived (or read from the archive) through `memo`. */
  derive(id: string, facts: TaskFacts, now: number, memo: DeriveMemo, depth = 0): TaskView {
    const board = this.ctx.board();
    const t = this.ctx.timing;
    return deriveTask(
      facts,
      boardDeriveContext(board, id, {
        now,
        lastSeen: this.lastSeen,
        depState: (dep) => {
          if (memo.has(dep)) return memo.get(dep);
          const f = board.getFacts(dep);
          memo.set(dep, undefined); // cycle guard
          const st = f ? (depth < 64 ? this.derive(dep, f, now, memo, depth + 1).state : undefined) : this.archive.get(dep)?.state;
          memo.set(dep, st);
          return st;
        },
        lease: t.lease,
        backoff: t.backoff,
        seed: this.ctx.meshSeed,
        knownPeers: Math.max(1, board.peers().length),
        candidates: this.candidatesOf(board),
      }),
    );
  }

  /** The registry's peers as round assignment sees them, rebuilt when the registry changes. */
  private candidatesOf(board: TaskBoard): readonly RoundCandidate[] {
    const peers = board.peers();
    const c = this.candidates;
    if (c && c.board === board && c.count === peers.length && c.version === board.registryVersion) return c.list;
    const list = peers.map((p) => ({ id: p.id, capacity: p.capacity, capabilities: p.capabilities, joinedAt: p.joinedAt ?? p.startedAt }));
    this.candidates = { board, count: peers.length, version: board.registryVersion, list };
    return list;
  }

  private candidates: { board: TaskBoard; count: number; version: number; list: RoundCandidate[] } | undefined;

  /** Derives a task's view as this replica sees it now. */
  view(id: string, now = this.ctx.clock.now()): TaskView | undefined {
    const facts = this.ctx.board().getFacts(id);
    if (!facts) return undefined;
    return this.derive(id, facts, now, new Map());
  }

  /** Every live task as this replica sees it. */
  views(now = this.ctx.clock.now()): TaskView[] {
    const board = this.ctx.board();
    const memo: DeriveMemo = new Map();
    const out: TaskView[] = [];
    for (const id of board.taskIds()) {
      const f = board.getFacts(id);
      if (f) {
        const v = this.derive(id, f, now, memo);
        memo.set(id, v.state);
        out.push(v);
      }
    }
    return out;
  }

  /** The view of an archived task, derived from its archived facts. */
  archivedView(id: string, now = this.ctx.clock.now()): TaskView | undefined {
    const rec = this.archive.get(id);
    const facts = rec ? factsFromRecord(rec) : undefined;
    if (!rec || !facts) return undefined;
    const board = this.ctx.board();
    const t = this.ctx.timing;
    return deriveTask(facts, {
      now,
      taskSeenAt: rec.finishedAt,
      seenAt: () => rec.finishedAt,
      lastSeen: () => undefined,
      depState: (dep) => (board.getFacts(dep) ? this.view(dep, now)?.state : this.archive.get(dep)?.state),
      lease: t.lease,
      backoff: t.backoff,
      seed: this.ctx.meshSeed,
      knownPeers: Math.max(1, board.peers().length),
      candidates: this.candidatesOf(board),
    });
  }

  /** The registry's peers as round assignment sees them (archived records derive with them too). */
  registry(): readonly RoundCandidate[] {
    return this.candidatesOf(this.ctx.board());
  }

  /** Records what the main loop derived for a task; emits 'task' when its state changed. */
  note(id: string, v: TaskView): void {
    const dups = v.duplicates.length;
    this.dupTotal += dups - (this.dupCount.get(id) ?? 0);
    if (dups > 0) this.dupCount.set(id, dups);
    else this.dupCount.delete(id);
    const was = this.lastState.get(id);
    if (was === v.state) return;
    this.lastState.set(id, v.state);
    if (was !== undefined) this.stateCount[was]--;
    this.stateCount[v.state]++;
    const terminal = isTerminal(v.state);
    if (terminal && (was === undefined || !isTerminal(was)) && this.archive.mightHave(id)) this.archivedToo.add(id);
    else if (!terminal) this.archivedToo.delete(id);
    if (this.ctx.listens('task')) this.ctx.emit('task', { id, state: v.state, round: v.round, peer: v.result?.peer ?? v.claim?.peer, view: v });
  }

  /** Has the main loop derived this task since it came into the live document? */
  known(id: string): boolean {
    return this.lastState.has(id);
  }

  /** The state the main loop last derived for a task. */
  lastStateOf(id: string): TaskState | undefined {
    return this.lastState.get(id);
  }

  /** Duplicate runs of a task as last derived. */
  duplicatesOf(id: string): number {
    return this.dupCount.get(id) ?? 0;
  }

  /** Live tasks by the state last derived (a copy), and their duplicate runs in all. */
  counts(): { tasks: Record<TaskState, number>; duplicateRuns: number } {
    return { tasks: { ...this.stateCount }, duplicateRuns: this.dupTotal };
  }

  /** Finished live tasks the archive may hold too (see `archivedToo`). */
  alsoArchived(): ReadonlySet<string> {
    return this.archivedToo;
  }

  /** The task left the live document. */
  forget(id: string): void {
    const was = this.lastState.get(id);
    if (was !== undefined) this.stateCount[was]--;
    this.dupTotal -= this.dupCount.get(id) ?? 0;
    this.lastState.delete(id);
    this.dupCount.delete(id);
    this.archivedToo.delete(id);
  }
}
