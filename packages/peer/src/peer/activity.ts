// What this peer did in one turn, written as ONE activity batch (schema 2): the claims of the
// assigned tasks it started and the outcomes of the runs that ended, with the events that announce
// them emitted once they are in the document. Many tasks then cost one Yjs entry, one update on
// the wire and one log record, instead of one (or two) per task.

import type { ActivityRecord } from '@agentmesh/crdt-store';
import type { TimerId } from '../clock.js';
import type { PeerContext } from './context.js';

export class ActivityWriter {
  private records: ActivityRecord[] = [];
  private after: (() => void)[] = [];
  /** Tasks with a record waiting to be written. */
  private readonly waiting = new Map<string, number>();
  private timer: TimerId | undefined;
  private seq = 0;

  constructor(private readonly ctx: PeerContext) {}

  /** Adds a record to this turn's batch; `after` runs once the batch is written. */
  add(record: ActivityRecord, after?: () => void): void {
    this.records.push(record);
    if (after) this.after.push(after);
    this.waiting.set(record.task, (this.waiting.get(record.task) ?? 0) + 1);
    this.timer ??= this.ctx.clock.setTimeout(() => this.flush(), 0);
  }

  /** A record of this task waits to be written (a run ended or started, the document does not say so yet). */
  holds(task: string): boolean {
    return this.waiting.has(task);
  }

  /** Writes this turn's records as one activity batch, then runs what waited for it. */
  flush(): void {
    if (this.timer !== undefined) this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.records.length === 0) return;
    const records = this.records;
    const after = this.after;
    this.records = [];
    this.after = [];
    this.waiting.clear();
    const board = this.ctx.board();
    const key = `a${board.doc.clientID.toString(36)}-${(this.seq++).toString(36)}`;
    board.putActivity(key, { peer: this.ctx.id, records });
    for (const a of after) a();
    this.ctx.processSoon();
  }

  /** Drops what was not written (a crash). */
  drop(): void {
    if (this.timer !== undefined) this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.records = [];
    this.after = [];
    this.waiting.clear();
  }

  /** Stops the timer (the peer shut down). */
  close(): void {
    if (this.timer !== undefined) this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
