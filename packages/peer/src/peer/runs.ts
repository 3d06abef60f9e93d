// The runs of this peer: starting an agent on a claimed task (with its inputs, data writes,
// progress, timeout and abort signal), aborting a run whose claim was lost, and writing outcomes.
// Outcomes of runs that end in the same timer turn (and the claims of assigned tasks started in
// it) are written together as one activity batch (activity.ts). A run another peer might start
// too waits at the claim gate (claim-gate.ts) before its agent starts: it holds its slot, and is
// dropped without a trace if the award goes to another claim meanwhile.

import { MeshError, isPermanentFailure, type TaskSpec } from '@agentmesh/scheduler';
import { LIMITS, jsonSize, type Archive } from '@agentmesh/crdt-store';
import type { AgentContext, AgentDefinition } from '../agents.js';
import type { TimerId } from '../clock.js';
import { errorText } from '../errors.js';
import type { ActivityWriter } from './activity.js';
import type { ClaimGate, GateLook, GateMark } from './claim-gate.js';
import type { PeerContext } from './context.js';
import type { Liveness } from './liveness.js';
import type { Views } from './views.js';

/** How many tasks run to success a peer remembers (see Runs.succeeded). */
const SUCCEEDED_MEMORY = 200_000;

interface Run {
  id: string;
  round: number;
  /** The task's type (what its events name). */
  type: string;
  startedAt: number;
  /** Made when the agent first asks for its abort signal (most runs never do). */
  controller: AbortController | undefined;
  /** Why the run was aborted, if it was (for a signal asked for afterwards). */
  abortedWith: unknown;
  /** Set when the run must not write its outcome. */
  discard: string | undefined;
  timer: TimerId | undefined;
  lastProgressAt: number;
  /** Set while the run waits at the claim gate (its agent has not started). */
  gate: { spec: TaskSpec; mark: GateMark | undefined } | undefined;
}

type Outcome = { ok: true; result: unknown } | { ok: false; error: string; permanent?: boolean };

export interface RunsDeps {
  agents: ReadonlyMap<string, AgentDefinition>;
  views: Views;
  archive: Archive;
  liveness: Liveness;
  activity: ActivityWriter;
  /** The storage sequence of the latest update (data writes report it). */
  writeSeq: () => number;
  gate: ClaimGate;
}

export class Runs {
  private readonly running = new Map<string, Run>();
  /**
   * Tasks this peer ran to success in this life (the most recent SUCCEEDED_MEMORY). Archival on
   * other peers deletes a finished task's entries, and those deletions can arrive here in any
   * order: for a moment this replica may hold the task's spec without the claim its own `done`
   * needs, and the task looks unrun. It is never run again here for that.
   */
  private readonly succeeded = new Set<string>();
  /** Runs waiting at the claim gate. */
  private gated = 0;

  constructor(
    private readonly ctx: PeerContext,
    private readonly deps: RunsDeps,
  ) {}

  /** Runs under way. */
  get count(): number {
    return this.running.size;
  }

  /**
   * Moves a run still under way to a later round of its task (its round was closed while it ran:
   * a rival claim that nobody will run won the award, then lapsed): the claim of that round is
   * written now with the best score (the work is already under way), so peers that see it leave
   * the round alone, and the outcome will be written for it.
   */
  carryOver(id: string, round: number): boolean {
    const run = this.running.get(id);
    if (!run || run.gate || run.discard || round <= run.round) return false;
    const from = run.round;
    run.round = round;
    this.deps.activity.add({ kind: 'claim', task: id, round, at: this.ctx.clock.now(), score: 0 });
    this.ctx.log.log('debug', 'run carried over to a later round', { task: id, from, round });
    return true;
  }

  /** This peer ran `id` to success in this life (see `succeeded`). */
  succeededHere(id: string): boolean {
    return this.succeeded.has(id);
  }

  has(id: string): boolean {
    return this.running.has(id);
  }

  /** The round a run of this task is in, if this peer runs it. */
  roundOf(id: string): number | undefined {
    return this.running.get(id)?.round;
  }

  /** Ids of the tasks running here. */
  ids(): string[] {
    return [...this.running.keys()];
  }

  /** A run of this task ended (or started) and the document does not say so yet. */
  outcomePending(id: string): boolean {
    return this.deps.activity.holds(id);
  }

  private inputsOf(spec: TaskSpec): Record<string, unknown> {
    const board = this.ctx.board();
    const out: Record<string, unknown> = {};
    for (const dep of spec.dependsOn) {
      const f = board.getFacts(dep);
      out[dep] = f ? (this.deps.views.view(dep)?.result?.result ?? null) : (this.deps.archive.get(dep)?.result ?? null);
    }
    return out;
  }

  /**
   * Starts the agent of `spec.type` on a task this peer holds the claim of. With `claim`, the claim
   * itself is written with this turn's activity batch (an assigned round 1 needs no award). With
   * `gated`, the agent starts only once the claim gate opens (see openGates).
   */
  start(id: string, spec: TaskSpec, round: number, claim?: { score: number }, gated = false): void {
    const { ctx } = this;
    if (this.succeeded.has(id)) {
      ctx.log.log('debug', 'not running again a task this peer already ran to success', { task: id, round });
      return;
    }
    const now = ctx.clock.now();
    const run: Run = { id, round, type: spec.type, startedAt: now, controller: undefined, abortedWith: undefined, discard: undefined, timer: undefined, lastProgressAt: -Infinity, gate: undefined };
    this.running.set(id, run);
    if (claim) this.deps.activity.add({ kind: 'claim', task: id, round, at: now, score: claim.score });
    if (gated) {
      run.gate = { spec, mark: undefined };
      this.gated++;
      ctx.processSoon();
      return;
    }
    this.execute(run, spec);
  }

  /** Runs waiting at the claim gate. */
  get waitingAtGate(): number {
    return this.gated;
  }

  /**
   * Starts the gated runs whose gate opened (their claim still holds the award), and drops those
   * whose claim lost it (nothing was run, nothing is written).
   */
  openGates(now: number): void {
    if (this.gated === 0) return;
    const me = this.ctx.id;
    let look: GateLook | undefined;
    for (const run of [...this.running.values()]) {
      const g = run.gate;
      if (!g || this.running.get(run.id) !== run) continue;
      if (this.deps.activity.holds(run.id)) continue; // its claim goes out with this turn's batch
      g.mark ??= this.deps.gate.mark();
      const v = this.deps.views.view(run.id, now);
      if (!v || v.state !== 'running' || v.claim?.peer !== me || v.claim.round !== run.round) {
        this.dropGated(run, v?.claim ? `the award of round ${run.round} went to ${v.claim.peer}` : 'its claim no longer holds');
        continue;
      }
      const holder = this.deps.liveness.livingExpiredHolder(v, g.spec.timeoutMs, now);
      if (holder !== undefined) {
        this.dropGated(run, `${holder}, whose lease of an earlier round was expired by another peer, is alive and may still run it`);
        continue;
      }
      const r = this.deps.gate.open(g.spec, g.mark, now, (look ??= this.deps.gate.look(now)));
      g.mark = r.mark;
      if (!r.open) continue;
      run.gate = undefined;
      this.gated--;
      this.execute(run, g.spec);
    }
    if (this.gated === 0) this.deps.gate.idle();
  }

  /** A gated run whose agent never started leaves without a trace. */
  private dropGated(run: Run, reason: string): void {
    if (!run.gate) return;
    run.gate = undefined;
    run.discard = reason;
    this.gated--;
    if (this.running.get(run.id) === run) this.running.delete(run.id);
    this.ctx.log.log('debug', 'gated run dropped before it started', { task: run.id, round: run.round, reason });
    if (this.gated === 0) this.deps.gate.idle();
    this.ctx.processSoon();
  }

  /** Starts the agent of a run. */
  private execute(run: Run, spec: TaskSpec): void {
    const { ctx } = this;
    const { id, round } = run;
    run.startedAt = ctx.clock.now();
    ctx.emit('run-start', { id, round, type: spec.type });
    const def = this.deps.agents.get(spec.type);
    if (spec.timeoutMs > 0) {
      run.timer = ctx.clock.setTimeout(() => {
        if (this.running.get(id) !== run || run.discard) return;
        abortSignal(run, new MeshError('TIMEOUT', `timed out after ${spec.timeoutMs} ms`));
        this.finish(run, { ok: false, error: `timeout: run exceeded ${spec.timeoutMs} ms` });
      }, spec.timeoutMs);
    }
    const agentCtx: AgentContext = {
      taskId: id,
      attempt: round,
      peer: { id: ctx.id, name: ctx.name },
      get signal() {
        return signalOf(run);
      },
      progress: (pct, message) => this.progress(run, pct, message),
      data: {
        put: (key, value, namespace) => this.agentWrite(run, spec, key, value, namespace),
        get: (key, namespace) => ctx.board().getData(namespace ?? spec.type, key)?.value,
      },
      inputs: this.inputsOf(spec),
      now: () => ctx.clock.now(),
      sleep: (ms) => this.sleep(ms, signalOf(run)),
    };
    const exec = async () => {
      if (!def) throw new MeshError('UNKNOWN_AGENT', `no agent for task type ${spec.type}`);
      return def.run(spec.payload, agentCtx);
    };
    exec().then(
      (result) => this.finish(run, { ok: true, result }),
      (err) => this.finish(run, { ok: false, error: errorText(err), permanent: isPermanentFailure(err) }),
    );
  }

  private agentWrite(run: Run, spec: TaskSpec, key: string, value: unknown, namespace?: string): void {
    if (run.discard || this.ctx.stopped()) throw new MeshError('ABORTED', 'run was aborted');
    const ns = namespace ?? spec.type.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
    this.ctx.board().writeData(ns, key, value, this.ctx.id, this.ctx.clock.now(), run.id);
    this.ctx.counters.dataWrites++;
    this.ctx.emit('data-write', { namespace: ns, key, task: run.id, seq: this.deps.writeSeq() });
  }

  private progress(run: Run, pct: number, message?: string): void {
    if (run.discard || this.ctx.stopped() || this.running.get(run.id) !== run) return;
    const now = this.ctx.clock.now();
    if (now - run.lastProgressAt < this.ctx.timing.progressMinMs && pct < 100) return;
    run.lastProgressAt = now;
    const p = Math.max(0, Math.min(100, Number.isFinite(pct) ? pct : 0));
    this.ctx.board().putProgress(run.id, { peer: this.ctx.id, round: run.round, pct: p, message: String(message ?? '').slice(0, 200), at: now });
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    const clock = this.ctx.clock;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const t = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clock.clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Aborts this peer's run of a task (its outcome is never written). */
  abort(id: string, reason: string): void {
    const run = this.running.get(id);
    if (run) this.abortRun(run, reason);
  }

  private abortRun(run: Run, reason: string): void {
    if (run.discard) return;
    if (run.gate) return this.dropGated(run, reason);
    run.discard = reason;
    abortSignal(run, new MeshError('ABORTED', reason));
    if (run.timer !== undefined) this.ctx.clock.clearTimeout(run.timer);
    if (this.running.get(run.id) === run) this.running.delete(run.id);
    this.ctx.counters.aborted++;
    this.ctx.emit('run-end', { id: run.id, round: run.round, type: run.type, outcome: 'aborted', ms: this.ctx.clock.now() - run.startedAt, error: reason });
    this.ctx.log.log('debug', 'run aborted', { task: run.id, round: run.round, reason });
    this.ctx.processSoon();
  }

  private finish(run: Run, outcome: Outcome): void {
    const { ctx } = this;
    if (run.discard || this.running.get(run.id) !== run || ctx.stopped()) return;
    if (ctx.board().getSpec(run.id)?.exclusive && !this.deps.liveness.seesMajority(ctx.clock.now(), ctx.timing.lease.leaseMs / 2)) {
      this.abortRun(run, 'lost sight of a majority of peers before the result could be written (exclusive task)');
      return;
    }
    run.discard = 'finished';
    if (run.timer !== undefined) ctx.clock.clearTimeout(run.timer);
    this.running.delete(run.id);
    const now = ctx.clock.now();
    const ms = Math.max(0, now - run.startedAt);
    if (outcome.ok) {
      const size = jsonSize(outcome.result);
      if (size < 0 || size > LIMITS.valueBytes) {
        outcome = { ok: false, error: size < 0 ? 'result is not plain JSON' : `result is ${size} bytes, over the ${LIMITS.valueBytes}-byte limit` };
      }
    }
    // Outcomes that end in the same turn are written together, as one activity batch.
    const { id, round, type } = run;
    if (outcome.ok) {
      this.succeeded.add(id);
      if (this.succeeded.size > SUCCEEDED_MEMORY) this.succeeded.delete(this.succeeded.values().next().value as string);
      this.deps.activity.add({ kind: 'done', task: id, round, at: now, ms, result: outcome.result ?? null }, () => {
        ctx.counters.done++;
        ctx.emit('run-end', { id, round, type, outcome: 'done', ms });
      });
    } else {
      const error = outcome.error;
      this.deps.activity.add({ kind: 'fail', task: id, round, at: now, error, ...(outcome.permanent ? { permanent: true } : {}) }, () => {
        ctx.counters.failed++;
        ctx.emit('run-end', { id, round, type, outcome: 'failed', ms, error });
      });
    }
  }

  /** Writes the claims and outcomes of this turn now (one activity batch). */
  writeOutcomes(): void {
    this.deps.activity.flush();
  }

  /**
   * Graceful stop: running tasks get `drainMs` to finish; what is still running then is released
   * (its lease expired at once, so others re-bid) and aborted, and every outcome is written.
   */
  async drain(drainMs: number): Promise<void> {
    const { clock } = this.ctx;
    const deadline = clock.now() + drainMs;
    while (this.running.size > 0 && clock.now() < deadline) {
      await new Promise<void>((r) => clock.setTimeout(r, 20));
    }
    const now = clock.now();
    const left = [...this.running.values()];
    if (left.length > 0) {
      const board = this.ctx.board();
      board.transact(() => {
        for (const run of left) board.putExpiry(run.id, { round: run.round, by: this.ctx.id, at: now });
      });
      for (const run of left) this.abortRun(run, 'peer stopping');
    }
    this.writeOutcomes();
  }

  /** Simulated kill -9: every run is dropped where it stands, nothing is written or emitted. */
  crash(): void {
    this.gated = 0;
    for (const run of this.running.values()) {
      run.discard = 'crashed';
      abortSignal(run, new MeshError('ABORTED', 'crashed'));
      if (run.timer !== undefined) this.ctx.clock.clearTimeout(run.timer);
    }
    this.running.clear();
    this.deps.activity.drop();
  }

  /** Stops the activity timer (the peer shut down). */
  close(): void {
    this.deps.activity.close();
  }
}

/** The run's abort signal, made on first use (aborted already if the run was). */
function signalOf(run: Run): AbortSignal {
  if (!run.controller) {
    run.controller = new AbortController();
    if (run.abortedWith !== undefined) run.controller.abort(run.abortedWith);
  }
  return run.controller.signal;
}

/** Aborts the run's signal (or remembers why, for a signal asked for later). */
function abortSignal(run: Run, reason: unknown): void {
  if (run.abortedWith !== undefined) return;
  run.abortedWith = reason;
  run.controller?.abort(reason);
}
