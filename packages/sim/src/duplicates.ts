// The duplicate-run ledger: every run start and end the simulator sees (from the peers' public
// `run-start` / `run-end` events, and from the crashes it causes itself), each run start judged
// the moment it happens: was the task already taken, and if so, does a crash or a partition
// excuse running it again? The exact rules are in the sim README ("When a duplicate run is
// justified"); in short:
//
// - A run start R of task T is a DUPLICATE when some earlier run E of T still "holds" the task:
//   E is under way, or E succeeded (run-end 'done'), or E was cut short (aborted, or its peer
//   crashed) and since then neither has a later start been counted against it nor has a run of
//   its round or a later one failed (or one failed before E began, on a peer cut off from E's
//   in between: E ran a round already over, across a partition). A run that ended 'failed' holds
//   nothing: a retry after a failure is the protocol working, not a duplicate.
// - Each holder E is judged over its window: from E's start to R's start, or, if E succeeded,
//   to at most SETTLE_MS after E ended (the time a connected mesh has to learn an outcome).
//   (If R's peer was down when E ended, those SETTLE_MS count from when it came back up: a crashed
//   peer learns nothing.) E is excused by CRASH if E's peer was down at some moment of the window, and by PARTITION
//   if E's peer and R's peer were both up and one had no directed path to the other at some
//   moment of the window (either direction: a claim, a heartbeat and an outcome must travel from
//   E's peer to R's, and R's bids must travel to E's peer).
// - R is JUSTIFIED when every holder is excused (cause: crash if any holder was excused by a
//   crash, else partition); otherwise it is UNJUSTIFIED, with a kind naming what went wrong
//   against the first holder that was not excused: `same-round` (two peers won the same round),
//   `stale-round` (R ran an earlier round than E: R's peer was behind on the task's history),
//   `outcome-unseen` (E had succeeded, and R's peer ran the task again in a later round), or
//   `lease-expired-while-alive` (a later round began while E's peer, alive and connected, held
//   the task or had just lost it without finishing it).

import type { Reachability } from './reachability.js';

export type DuplicateCause = 'partition' | 'crash' | 'unjustified';
export type UnjustifiedKind = 'same-round' | 'stale-round' | 'outcome-unseen' | 'lease-expired-while-alive';
export type RunOutcome = 'done' | 'failed' | 'aborted' | 'crashed';

export interface DuplicateCauses {
  partition: number;
  crash: number;
  unjustified: number;
}

export interface UnjustifiedKinds {
  'same-round': number;
  'stale-round': number;
  'outcome-unseen': number;
  'lease-expired-while-alive': number;
}

/** One run as the simulator saw it. Times are the simulator's virtual ms. */
export interface RunRecord {
  task: string;
  peer: string;
  /** The peer's incarnation (1 = first start; +1 after each crash-restart). */
  incarnation: number;
  round: number;
  start: number;
  end: number | undefined;
  outcome: RunOutcome | undefined;
  /** The network and crash state when it started: peers down, peers that could not reach it or that it could not reach. */
  down: string[];
  unreachableFrom: string[];
  unreachableTo: string[];
  /** A later start was counted against this run (a cut-short run holds the task for one duplicate only). */
  charged: boolean;
}

export interface DuplicateRecord {
  run: RunRecord;
  cause: DuplicateCause;
  kind: UnjustifiedKind | undefined;
  /** The earlier run it duplicates: the first holder not excused, else the first holder. */
  against: RunRecord;
  /** How that earlier run stood when this one started: running, or ended how and when. */
  againstState: string;
  /** A peer moved to a new document generation within GENERATION_NEAR_MS before this start. */
  nearGeneration: boolean;
}

export const emptyCauses = (): DuplicateCauses => ({ partition: 0, crash: 0, unjustified: 0 });
export const emptyKinds = (): UnjustifiedKinds => ({ 'same-round': 0, 'stale-round': 0, 'outcome-unseen': 0, 'lease-expired-while-alive': 0 });

/** How long "near a generation change" is, for the diagnostic count of unjustified duplicates. */
export const GENERATION_NEAR_MS = 1000;

export class RunLedger {
  private readonly byTask = new Map<string, RunRecord[]>();
  private readonly open = new Map<string, RunRecord>();
  /** When a peer last moved to a new document generation (events arrive in time order). */
  private lastGenerationMove = -Infinity;
  readonly duplicates: DuplicateRecord[] = [];
  readonly causes = emptyCauses();
  readonly kinds = emptyKinds();
  /**
   * Run starts seen; those within GENERATION_NEAR_MS after a generation move (the base rate), and
   * the unjustified duplicates among them.
   */
  starts = 0;
  startsNearGeneration = 0;
  unjustifiedNearGeneration = 0;

  /**
   * @param settleMs how long after a successful run its peer may still be excused (its outcome
   *   had not yet reached everyone); the simulator passes one lease.
   */
  constructor(
    private readonly reach: Reachability,
    private readonly peerIds: readonly string[],
    private readonly settleMs: number,
  ) {}

  private key(peer: string, task: string): string {
    return `${peer}\u0000${task}`;
  }

  /** A peer moved to a new document generation (for the diagnostic only). */
  generation(time: number): void {
    this.lastGenerationMove = time;
  }

  start(peer: string, incarnation: number, task: string, round: number, time: number): void {
    this.starts++;
    if (time - this.lastGenerationMove <= GENERATION_NEAR_MS) this.startsNearGeneration++;
    const others = this.peerIds.filter((p) => p !== peer);
    const run: RunRecord = {
      task,
      peer,
      incarnation,
      round,
      start: time,
      end: undefined,
      outcome: undefined,
      down: this.peerIds.filter((p) => this.reach.isDown(p)),
      unreachableFrom: others.filter((p) => this.reach.cutNow(p, peer)),
      unreachableTo: others.filter((p) => this.reach.cutNow(peer, p)),
      charged: false,
    };
    const runs = this.byTask.get(task) ?? [];
    const holders = runs.filter((e) => this.holds(e, runs));
    if (holders.length > 0) this.judge(run, holders);
    runs.push(run);
    this.byTask.set(task, runs);
    // A peer that starts the same task again without ending it (it should not) closes the old one.
    const prev = this.open.get(this.key(peer, task));
    if (prev) this.close(prev, 'aborted', time);
    this.open.set(this.key(peer, task), run);
  }

  end(peer: string, task: string, round: number, outcome: 'done' | 'failed' | 'aborted', time: number): void {
    const run = this.open.get(this.key(peer, task));
    // A run a peer carried over to a later round of its task (Runs.carryOver) ends in that round.
    if (!run || round < run.round) return;
    this.close(run, outcome, time);
  }

  /** The simulator crashed a peer: its runs end where they stand. */
  crashed(peer: string, time: number): void {
    for (const run of [...this.open.values()]) if (run.peer === peer) this.close(run, 'crashed', time);
  }

  private close(run: RunRecord, outcome: RunOutcome, time: number): void {
    run.end = time;
    run.outcome = outcome;
    this.open.delete(this.key(run.peer, run.task));
  }

  private excuse(e: RunRecord, r: RunRecord): 'crash' | 'partition' | undefined {
    // An outcome needs SETTLE_MS of a live peer to reach R's: if R's peer was down when E ended,
    // its time to learn the outcome starts when it came back up.
    const back = this.reach.upAgainAt(r.peer, r.start);
    const settleFrom = back !== undefined && back > e.end! ? back : e.end!;
    const to = e.outcome === 'done' ? Math.min(r.start, settleFrom + this.settleMs) : r.start;
    if (this.reach.downDuring(e.peer, e.start, to)) return 'crash';
    // A cut that ended at the very instant E started counts: E's peer had no time to hear anything
    // from across it (its claim gate saw the other side as gone).
    if (this.reach.cutDuring(e.peer, r.peer, e.start - 1, to)) return 'partition';
    return undefined;
  }

  private judge(r: RunRecord, holders: RunRecord[]): void {
    const excuses = holders.map((e) => this.excuse(e, r));
    const firstBad = excuses.indexOf(undefined);
    let cause: DuplicateCause;
    let kind: UnjustifiedKind | undefined;
    const against = holders[firstBad >= 0 ? firstBad : 0]!;
    if (firstBad >= 0) {
      cause = 'unjustified';
      kind = against.round === r.round ? 'same-round' : against.round > r.round ? 'stale-round' : against.outcome === 'done' ? 'outcome-unseen' : 'lease-expired-while-alive';
      this.kinds[kind]++;
    } else {
      cause = excuses.includes('crash') ? 'crash' : 'partition';
    }
    this.causes[cause]++;
    for (const e of holders) e.charged = true;
    const nearGeneration = r.start - this.lastGenerationMove <= GENERATION_NEAR_MS;
    if (cause === 'unjustified' && nearGeneration) this.unjustifiedNearGeneration++;
    const againstState = against.outcome === undefined ? 'still running' : `${against.outcome} at t=${against.end} ms`;
    this.duplicates.push({ run: r, cause, kind, against, againstState, nearGeneration });
  }

  /** Does this run still hold its task against a new start? */
  private holds(e: RunRecord, runs: readonly RunRecord[]): boolean {
    if (e.outcome === undefined || e.outcome === 'done') return true;
    if (e.outcome === 'failed' || e.charged) return false;
    // Cut short: a failure of its round or a later one (the loser of a race, then the winner
    // failed) opened a legitimate retry. So did one that ended before E started, when E's peer
    // was cut off from the failed run's peer in between: E ran a round already over, which it
    // could not know (a partition's same-round race, lost before it began).
    return !runs.some(
      (f) => f.outcome === 'failed' && f.round >= e.round && (f.end! >= e.start || this.reach.cutDuring(f.peer, e.peer, f.start - 1, e.start)),
    );
  }

  /** Every run the simulator saw, task by task, each task's runs in start order. */
  allRuns(): RunRecord[] {
    return [...this.byTask.values()].flat();
  }

  /** Every run of a task, in start order. */
  runsOf(task: string): readonly RunRecord[] {
    return this.byTask.get(task) ?? [];
  }
}

/** One readable line naming the task, the peers, rounds and times of a duplicate run. */
export function describeDuplicate(d: DuplicateRecord): string {
  const e = d.against;
  const head = d.cause === 'unjustified' ? `unjustified duplicate run (${d.kind}${d.nearGeneration ? ', near a generation change' : ''})` : `duplicate run (${d.cause})`;
  const tail = d.cause === 'unjustified' ? `, ${e.peer} up and connected to ${d.run.peer} throughout` : '';
  return `${head} of task ${d.run.task}: ${d.run.peer} started round ${d.run.round} at t=${d.run.start} ms while ${e.peer}'s run of round ${e.round} (started t=${e.start} ms) was ${d.againstState}${tail}`;
}
