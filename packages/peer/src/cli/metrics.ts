// What a peer measures about itself over time, kept in the peer process so a dashboard that
// reloads (or a second one) gets the history at once: a short ring of samples (every 2 s, 30 min)
// of its counters, task counts, load, document and archive size and sync bytes, served as JSON
// (GET /api/metrics), and the same figures with run-time and latency histograms in the Prometheus
// text format (GET /metrics), as queue dashboards offer.

import { TASK_STATES, type TaskState } from '@agentmesh/scheduler';
import type { Peer } from '../peer.js';

export interface MetricsSample {
  /** ms since epoch (this peer's clock). */
  t: number;
  /** Runs of this peer that finished, failed or were aborted, since it started. */
  done: number;
  failed: number;
  aborted: number;
  dataWrites: number;
  load: number;
  running: number;
  /** Every task this peer knows, by state (live and archived). */
  tasks: Record<TaskState, number>;
  duplicateRuns: number;
  archived: number;
  /** Encoded size of the live document (measured every few samples, less often when a measure costs more than docShare of the time; the last measure otherwise). */
  docBytes: number | null;
  docTasks: number;
  generation: number;
  archiveBytes: number;
  syncSentBytes: number;
  syncReceivedBytes: number;
  peersAlive: number;
  peersKnown: number;
}

export interface MetricsOptions {
  intervalMs?: number;
  /** Samples kept. */
  size?: number;
  /** Measure the document's encoded size every this many samples (it costs a full encoding). */
  docEvery?: number;
  /**
   * A measure of the document may take at most this share of the peer's time (default 0.005):
   * after one that took d ms, the next waits at least d / share ms, so a large document (a 30-peer
   * mesh with a backlog) is measured less often instead of costing the peer a tenth of its CPU.
   */
  docShare?: number;
  /** Monotonic ms (default performance.now), for the document measure's budget. */
  now?: () => number;
  /** The transport's wire counters, if any. */
  wire?: () => { sentBytes: number; receivedBytes: number; connections: number };
  /** Peers this one is told to block (partition). */
  blocked?: () => string[];
}

/** Upper bounds (seconds) of the histogram buckets. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

class Histogram {
  readonly counts = new Array<number>(BUCKETS.length + 1).fill(0);
  sum = 0;
  n = 0;

  observe(seconds: number): void {
    let i = BUCKETS.findIndex((b) => seconds <= b);
    if (i < 0) i = BUCKETS.length;
    this.counts[i]!++;
    this.sum += seconds;
    this.n++;
  }

  lines(name: string, labels: string): string[] {
    const out: string[] = [];
    let acc = 0;
    const sep = labels ? `${labels},` : '';
    for (let i = 0; i < BUCKETS.length; i++) {
      acc += this.counts[i]!;
      out.push(`${name}_bucket{${sep}le="${BUCKETS[i]}"} ${acc}`);
    }
    out.push(`${name}_bucket{${sep}le="+Inf"} ${this.n}`);
    out.push(`${name}_sum${labels ? `{${labels}}` : ''} ${this.sum}`);
    out.push(`${name}_count${labels ? `{${labels}}` : ''} ${this.n}`);
    return out;
  }
}

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class PeerMetrics {
  readonly intervalMs: number;
  private readonly size: number;
  private readonly docEvery: number;
  private readonly ring: MetricsSample[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private tick = 0;
  private docBytes: number | null = null;
  /** Not before this (opts.now) is the document measured again. */
  private docNextAt = -Infinity;
  private readonly docShare: number;
  private readonly now: () => number;
  private readonly runTime = new Map<string, Histogram>();
  private readonly latency = new Histogram();
  private offs: (() => void)[] = [];

  constructor(
    private readonly peer: Peer,
    private readonly opts: MetricsOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 2000;
    this.size = opts.size ?? 900;
    this.docEvery = opts.docEvery ?? 5;
    this.docShare = opts.docShare ?? 0.005;
    this.now = opts.now ?? (() => performance.now());
  }

  start(): void {
    this.offs.push(
      this.peer.on('run-end', (e) => {
        let h = this.runTime.get(e.outcome);
        if (!h) this.runTime.set(e.outcome, (h = new Histogram()));
        h.observe(e.ms / 1000);
        if (e.outcome === 'done') {
          const created = this.peer.taskSpec(e.id)?.createdAt;
          if (created !== undefined) this.latency.observe(Math.max(0, Date.now() - created) / 1000);
        }
      }),
    );
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const off of this.offs) off();
    this.offs = [];
  }

  /** Takes one sample now (the timer does this every interval). */
  sample(): MetricsSample | undefined {
    const p = this.peer;
    if (p.isStopped) return undefined;
    if (this.docBytes === null || (this.tick % this.docEvery === 0 && this.now() >= this.docNextAt)) {
      const t0 = this.now();
      try {
        this.docBytes = p.docStats().bytes;
      } catch {
        /* keep the last one */
      }
      const took = this.now() - t0;
      this.docNextAt = t0 + took + took / this.docShare;
    }
    this.tick++;
    const st = p.status();
    const sync = p.syncStats();
    const s: MetricsSample = {
      t: Date.now(),
      done: p.counters.done,
      failed: p.counters.failed,
      aborted: p.counters.aborted,
      dataWrites: p.counters.dataWrites,
      load: p.load,
      running: p.runningCount,
      tasks: st.tasks,
      duplicateRuns: st.duplicateRuns,
      archived: st.archived.total,
      docBytes: this.docBytes,
      docTasks: p.document.board.taskCount,
      generation: st.generation.n,
      archiveBytes: p.archive.bytes(),
      syncSentBytes: sync.sentBytes,
      syncReceivedBytes: sync.receivedBytes,
      peersAlive: st.peers.filter((x) => x.alive).length,
      peersKnown: st.peers.length,
    };
    this.ring.push(s);
    if (this.ring.length > this.size) this.ring.splice(0, this.ring.length - this.size);
    return s;
  }

  /** The samples taken after `since` (all without it), oldest first. */
  samples(since = 0): MetricsSample[] {
    return since > 0 ? this.ring.filter((s) => s.t > since) : [...this.ring];
  }

  /** The latest measure of the document's encoded size. */
  get lastDocBytes(): number | null {
    return this.docBytes;
  }

  /** Tasks per second this peer finished over the last `seconds` (from the ring). */
  rate(seconds = 10): number {
    const last = this.ring.at(-1);
    if (!last) return 0;
    const first = this.ring.find((s) => s.t >= last.t - seconds * 1000) ?? last;
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? Math.max(0, last.done - first.done) / dt : 0;
  }

  /** Everything in the Prometheus text exposition format (version 0.0.4). */
  prometheus(): string {
    const p = this.peer;
    const st = p.status();
    const sync = p.syncStats();
    const out: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter' | 'histogram', help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    metric('agentmesh_peer_info', 'gauge', 'This peer: its name and id (always 1).', [`agentmesh_peer_info{name="${esc(p.name)}",peer_id="${esc(p.id)}"} 1`]);
    metric('agentmesh_tasks', 'gauge', 'Tasks this peer knows, by state (live document and archive, each once).', TASK_STATES.map((s) => `agentmesh_tasks{state="${s}"} ${st.tasks[s]}`));
    metric('agentmesh_duplicate_runs', 'gauge', 'Successful runs other than the canonical one, over every task this peer knows.', [`agentmesh_duplicate_runs ${st.duplicateRuns}`]);
    metric('agentmesh_archived_tasks', 'gauge', "Tasks in this peer's archive (left the live document), by state.", (['done', 'dead', 'cancelled'] as const).map((s) => `agentmesh_archived_tasks{state="${s}"} ${st.archived[s]}`));
    metric('agentmesh_runs_total', 'counter', 'Runs of this peer since it started, by outcome.', [`agentmesh_runs_total{outcome="done"} ${p.counters.done}`, `agentmesh_runs_total{outcome="failed"} ${p.counters.failed}`, `agentmesh_runs_total{outcome="aborted"} ${p.counters.aborted}`]);
    metric('agentmesh_data_writes_total', 'counter', 'Shared-data items written by the agents of this peer since it started.', [`agentmesh_data_writes_total ${p.counters.dataWrites}`]);
    metric('agentmesh_bids_total', 'counter', 'Bids this peer wrote since it started.', [`agentmesh_bids_total ${p.counters.bids}`]);
    metric('agentmesh_claims_total', 'counter', 'Claims this peer wrote since it started.', [`agentmesh_claims_total ${p.counters.claims}`]);
    metric('agentmesh_lease_expiries_total', 'counter', "Other peers' leases this peer ended (expiry facts it wrote) since it started.", [`agentmesh_lease_expiries_total ${p.counters.expiriesWritten}`]);
    metric('agentmesh_restores_total', 'counter', "Tasks that came back into the live document without their outcome and got it again from this peer's archive, since it started.", [`agentmesh_restores_total ${p.counters.restores}`]);
    metric('agentmesh_throughput_tasks_per_second', 'gauge', 'Runs this peer finished per second over the last 10 s.', [`agentmesh_throughput_tasks_per_second ${this.rate(10)}`]);
    const runLines: string[] = [];
    for (const [outcome, h] of [...this.runTime].sort()) runLines.push(...h.lines('agentmesh_run_duration_seconds', `outcome="${outcome}"`));
    metric('agentmesh_run_duration_seconds', 'histogram', 'How long the runs of this peer took, by outcome.', runLines);
    metric('agentmesh_task_latency_seconds', 'histogram', 'From submission (the creator clock) to done, for tasks this peer finished.', this.latency.lines('agentmesh_task_latency_seconds', ''));
    metric('agentmesh_load', 'gauge', 'Runs and reservations of this peer now.', [`agentmesh_load ${p.load}`]);
    metric('agentmesh_running', 'gauge', 'Runs of this peer now.', [`agentmesh_running ${p.runningCount}`]);
    metric('agentmesh_capacity_tasks_per_second', 'gauge', 'Tasks per second this peer takes on (its capacity).', [`agentmesh_capacity_tasks_per_second ${p.capacity}`]);
    metric('agentmesh_concurrency', 'gauge', 'Runs this peer makes at once at most.', [`agentmesh_concurrency ${p.concurrency}`]);
    metric('agentmesh_document_bytes', 'gauge', 'Encoded size of the live document (measured every few seconds).', [`agentmesh_document_bytes ${this.docBytes ?? 0}`]);
    metric('agentmesh_document_tasks', 'gauge', 'Tasks in the live document.', [`agentmesh_document_tasks ${p.document.board.taskCount}`]);
    metric('agentmesh_document_generation', 'gauge', 'Generation number of the live document.', [`agentmesh_document_generation ${st.generation.n}`]);
    metric('agentmesh_archive_bytes', 'gauge', "Bytes of this peer's archive on disk.", [`agentmesh_archive_bytes ${p.archive.bytes()}`]);
    metric('agentmesh_sync_bytes_total', 'counter', 'Sync message bytes handed to and received from the network.', [`agentmesh_sync_bytes_total{direction="sent"} ${sync.sentBytes}`, `agentmesh_sync_bytes_total{direction="received"} ${sync.receivedBytes}`]);
    metric('agentmesh_sync_messages_total', 'counter', 'Sync messages sent and received.', [`agentmesh_sync_messages_total{direction="sent"} ${sync.sentMessages}`, `agentmesh_sync_messages_total{direction="received"} ${sync.receivedMessages}`]);
    const wire = this.opts.wire?.();
    if (wire) {
      metric('agentmesh_wire_bytes_total', 'counter', 'TCP payload bytes on the wire (every protocol and copy).', [`agentmesh_wire_bytes_total{direction="sent"} ${wire.sentBytes}`, `agentmesh_wire_bytes_total{direction="received"} ${wire.receivedBytes}`]);
    }
    const alive = st.peers.filter((x) => x.alive).length;
    metric('agentmesh_peers', 'gauge', 'Known peers (this one included), alive or away as this peer sees them.', [`agentmesh_peers{state="alive"} ${alive}`, `agentmesh_peers{state="away"} ${st.peers.length - alive}`]);
    metric('agentmesh_peer_up', 'gauge', 'Each known peer: 1 when this peer sees it alive, 0 when it is away.', st.peers.map((x) => `agentmesh_peer_up{peer="${esc(x.name)}",peer_id="${esc(x.peerId)}"} ${x.alive ? 1 : 0}`));
    metric('agentmesh_peer_load', 'gauge', 'Each known peer: its load as it last said.', st.peers.map((x) => `agentmesh_peer_load{peer="${esc(x.name)}"} ${x.load}`));
    const blocked = this.opts.blocked?.() ?? [];
    metric('agentmesh_blocked_peers', 'gauge', 'Peers this one is told to block (a partition made on purpose).', [`agentmesh_blocked_peers ${blocked.length}`]);
    return out.join('\n') + '\n';
  }
}
