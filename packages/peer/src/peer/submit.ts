// Turning submitted inputs into document entries: one task batch per submit (up to BATCH_MAX tasks
// each) with round 1 assigned: this peer takes what it can start at once, the rest is spread by
// capacity-weighted rendezvous over the peers it sees alive, skipping those without room
// (scheduler's assignTasks). Ids are the batch's (`<key>.<i>`) unless the input names one
// (explicit id, idempotency key); an id named by two batches (a resubmit, both sides of a
// partition) belongs to the batch with the smaller key on every replica (crdt-store).

import { assignTasks, type AssignCandidate, type Rng, type StrategyName, type TaskSpec } from '@agentmesh/scheduler';
import { BATCH_MAX, batchTaskId } from '@agentmesh/crdt-store';
import { buildTaskSpec, type TaskInput } from '../task-input.js';
import type { PeerContext } from './context.js';
import type { Liveness } from './liveness.js';

export interface SubmitDeps {
  ctx: PeerContext;
  liveness: Liveness;
  rng: Rng;
  defaultStrategy: StrategyName;
  /** Tasks this peer can start at once (free slots not already promised to its queue). */
  selfRoom: () => number;
}

export class Submitter {
  private seq = 0;

  constructor(private readonly d: SubmitDeps) {}

  /**
   * Validates every input, then writes them all in one transaction; returns their specs in input
   * order. A task whose id (explicit, or from its idempotency key) is already known is not written
   * again: its existing spec is returned.
   */
  write(inputs: readonly TaskInput[]): TaskSpec[] {
    const { ctx, rng, defaultStrategy } = this.d;
    const now = ctx.clock.now();
    const board = ctx.board();
    const build = { now, by: ctx.id, rng, defaultStrategy };
    const out: TaskSpec[] = new Array<TaskSpec>(inputs.length);
    /** Inputs to write: index, and the spec when its id is the input's own. */
    const fresh: { i: number; named: TaskSpec | undefined }[] = [];
    const named = new Map<string, TaskSpec>();
    inputs.forEach((input, i) => {
      if (input?.key === undefined && input?.id === undefined) {
        fresh.push({ i, named: undefined });
        return;
      }
      const spec = buildTaskSpec(input, build);
      const known = board.getSpec(spec.id) ?? named.get(spec.id);
      if (known) out[i] = known;
      else {
        named.set(spec.id, spec);
        fresh.push({ i, named: spec });
      }
    });
    const batches: { key: string; tasks: { spec: TaskSpec; assignee?: string }[] }[] = [];
    if (fresh.length > 0) {
      const candidates = this.candidates(now);
      for (let from = 0; from < fresh.length; from += BATCH_MAX) {
        const key = `b${board.doc.clientID.toString(36)}-${(this.seq++).toString(36)}`;
        const chunk = fresh.slice(from, from + BATCH_MAX);
        const specs = chunk.map(({ i, named }, j) => (out[i] = named ?? buildTaskSpec({ ...inputs[i]!, id: batchTaskId(key, j) }, build)));
        const assignees = assignTasks(specs, candidates, { key, self: ctx.id });
        batches.push({ key, tasks: specs.map((spec, j) => (assignees[j] === undefined ? { spec } : { spec, assignee: assignees[j]! })) });
        // What this batch gave each peer is no longer room for the next one.
        for (const a of assignees) {
          const c = a === undefined ? undefined : candidates.find((x) => x.id === a);
          if (c) c.room--;
        }
      }
    }
    board.transact(() => {
      for (const b of batches) board.putTaskBatch(b.key, { createdBy: ctx.id, createdAt: now, tasks: b.tasks });
    });
    return out;
  }

  /** The peers alive now with their room: free slots as their heartbeats report them. */
  private candidates(now: number): AssignCandidate[] {
    const { ctx, liveness } = this.d;
    const board = ctx.board();
    return liveness.aliveEligiblePeers(now).map((p) => {
      if (p.id === ctx.id) return { ...p, room: this.d.selfRoom() };
      const info = board.peer(p.id);
      const load = liveness.loadOf(p.id) ?? 0;
      return { ...p, room: Math.max(0, (info?.concurrency ?? 0) - load) };
    });
  }
}
