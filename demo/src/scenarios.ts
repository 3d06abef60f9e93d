// The demo's workload: realistic task payloads for the brief's three use cases (traffic flow
// forecast per junction, anomaly scoring per machine, triage per patient), built deterministically
// from a seed so a run can be repeated, and a generator that submits them to the peers' HTTP API at
// a chosen rate. Payload shapes follow packages/agents/README.md.

export type ScenarioKind = 'traffic' | 'factory' | 'clinic';
export const SCENARIO_KINDS: readonly ScenarioKind[] = ['traffic', 'factory', 'clinic'];

export const TASK_TYPE: Record<ScenarioKind, string> = {
  traffic: 'traffic.forecast',
  factory: 'factory.anomaly',
  clinic: 'clinic.triage',
};

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;

const JUNCTIONS = ['J1', 'J2', 'J3', 'J4', 'J5', 'J6', 'J7', 'J8'];
const JUNCTION_BASE = [620, 480, 900, 350, 760, 540, 410, 830];
const MACHINES = ['press-1', 'press-2', 'lathe-1', 'lathe-2', 'mill-1', 'pump-1'];
const PATIENTS = 40;

/** Vehicles per hour at a junction: a night low, a morning and an evening peak. */
function dailyShape(hour: number): number {
  const h = ((hour % 24) + 24) % 24;
  return 0.18 + 0.95 * Math.exp(-((h - 8) ** 2) / 3) + 0.8 * Math.exp(-((h - 17.5) ** 2) / 4.5) + 0.35 * Math.exp(-((h - 13) ** 2) / 10);
}

/**
 * The n-th task of a scenario: each task takes the next subject (junction, machine, patient) in turn
 * and rolls its time window forward, so successive forecasts of one junction move through the day.
 */
export function scenarioTask(kind: ScenarioKind, seed: number, n: number): { type: string; payload: Record<string, unknown> } {
  const r = rng((seed * 1_000_003 + n * 7919) >>> 0);
  if (kind === 'traffic') {
    const j = n % JUNCTIONS.length;
    const end = Math.floor(n / JUNCTIONS.length) + 30; // hour index of the newest count
    const counts: number[] = [];
    for (let h = end - 47; h <= end; h++) {
      const weekday = Math.floor(h / 24) % 7 < 5 ? 1 : 0.7;
      counts.push(Math.max(0, Math.round(JUNCTION_BASE[j]! * dailyShape(h) * weekday * (1 + 0.06 * gauss(r)))));
    }
    return { type: TASK_TYPE.traffic, payload: { junction: JUNCTIONS[j]!, counts, season: 24, horizon: 4, intervalMinutes: 60 } };
  }
  if (kind === 'factory') {
    const m = n % MACHINES.length;
    const base = 2 + m * 0.4;
    // Vibration (mm/s): the last 24 readings, scored over a window of 16, so each task judges the
    // newest 9; now and then a bearing knock in the newest 8.
    const readings: number[] = [];
    for (let i = 0; i < 24; i++) readings.push(round(base + 0.03 * Math.sin((n + i) / 7) + 0.08 * gauss(r), 3));
    if (r() < 0.15) {
      const at = 16 + Math.floor(r() * 8);
      readings[at] = round(readings[at]! + 0.8 + 1.5 * r(), 3);
    }
    return { type: TASK_TYPE.factory, payload: { machine: MACHINES[m]!, readings, window: 16, threshold: 3.5 } };
  }
  const p = n % PATIENTS;
  const sick = rng(seed + p)() < 0.15; // the same patients are unwell throughout a run
  const v = (mean: number, sd: number) => mean + sd * gauss(r);
  const conscious = r();
  return {
    type: TASK_TYPE.clinic,
    payload: {
      patient: `pt-${String(p + 1).padStart(3, '0')}`,
      respRate: Math.round(clamp(v(sick ? 24 : 16, sick ? 4 : 2.5), 4, 60)),
      spo2: Math.round(clamp(v(sick ? 91 : 97, sick ? 2.5 : 1.2), 70, 100)),
      spo2Scale: 1,
      onOxygen: sick ? r() < 0.5 : r() < 0.05,
      systolic: Math.round(clamp(v(sick ? 100 : 124, sick ? 14 : 12), 60, 240)),
      pulse: Math.round(clamp(v(sick ? 114 : 76, sick ? 14 : 10), 30, 200)),
      consciousness: sick && conscious < 0.15 ? 'C' : conscious < 0.01 ? 'V' : 'A',
      temperature: round(clamp(v(sick ? 38.4 : 36.9, sick ? 0.6 : 0.35), 33, 42), 1),
    },
  };
}

export interface ScenarioRequest {
  kind: ScenarioKind;
  /** Tasks per second, over all targets. */
  rate: number;
  seconds: number;
  /** Submit only to this peer (by name); default: round-robin over every live peer. */
  peer?: string;
  seed?: number;
  /** Share of tasks (0..0.5) that always fail, to show retries and dead letters; default 0. */
  faulty?: number;
}

export interface ScenarioState {
  id: string;
  kind: ScenarioKind;
  rate: number;
  seconds: number;
  peer: string | null;
  seed: number;
  faulty: number;
  startedAt: number;
  /** Tasks handed to a peer and acknowledged (fsynced) by it. */
  submitted: number;
  /** Acknowledged tasks per peer name. */
  perPeer: Record<string, number>;
  failed: number;
  lastError: string | null;
  running: boolean;
}

/** Checks a scenario request; returns an error message or the normalized request. */
export function parseScenario(body: unknown): ScenarioRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (typeof b.kind !== 'string' || !SCENARIO_KINDS.includes(b.kind as ScenarioKind)) return `kind must be one of ${SCENARIO_KINDS.join(', ')}`;
  const rate = b.rate ?? 20;
  const seconds = b.seconds ?? 10;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0.1 || rate > 500) return 'rate must be a number of tasks/s in 0.1..500';
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0.1 || seconds > 600) return 'seconds must be a number in 0.1..600';
  if (b.peer !== undefined && b.peer !== null && b.peer !== '' && typeof b.peer !== 'string') return 'peer must be a peer name';
  const seed = b.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) return 'seed must be a non-negative integer';
  const faulty = b.faulty ?? 0;
  if (typeof faulty !== 'number' || !Number.isFinite(faulty) || faulty < 0 || faulty > 0.5) return 'faulty must be a share in 0..0.5';
  const out: ScenarioRequest = { kind: b.kind as ScenarioKind, rate, seconds, seed, faulty };
  if (typeof b.peer === 'string' && b.peer !== '') out.peer = b.peer;
  return out;
}

export interface ScenarioTaskInput {
  type: string;
  payload: unknown;
  maxAttempts?: number;
}

/** A task that fails on every attempt (the built-in `fail` agent): it ends as a dead letter. */
export function faultyTask(kind: ScenarioKind, n: number): ScenarioTaskInput {
  return { type: 'fail', payload: { times: 1000, scenario: kind, n }, maxAttempts: 3 };
}

export interface SubmitTarget {
  name: string;
  /** POSTs tasks to the peer; resolves when it acknowledged them. */
  submit(tasks: ScenarioTaskInput[]): Promise<void>;
}

/**
 * Submits a scenario's tasks at `rate` for `seconds`, in batches every 100 ms, round-robin over the
 * targets `targets()` returns at each tick (the live peers, or the one asked for). The task number
 * continues across runs of one kind so payloads keep moving (seeded, so a restart repeats them).
 */
export class ScenarioRunner {
  readonly state: ScenarioState;
  private timer: NodeJS.Timeout | undefined;
  private planned = 0;
  private rr = 0;
  private inflight = 0;
  private done!: Promise<void>;

  constructor(
    id: string,
    req: ScenarioRequest,
    private readonly firstTask: number,
    private readonly targets: () => SubmitTarget[],
    private readonly log: (msg: string) => void,
  ) {
    this.state = {
      id,
      kind: req.kind,
      rate: req.rate,
      seconds: req.seconds,
      peer: req.peer ?? null,
      seed: req.seed ?? 1,
      faulty: req.faulty ?? 0,
      startedAt: Date.now(),
      submitted: 0,
      perPeer: {},
      failed: 0,
      lastError: null,
      running: true,
    };
  }

  /** How many tasks the run will create in total. */
  get total(): number {
    return Math.max(1, Math.round(this.state.rate * this.state.seconds));
  }

  start(): Promise<void> {
    this.done = new Promise<void>((resolve) => {
      const tick = () => {
        const elapsed = (Date.now() - this.state.startedAt) / 1000;
        const due = Math.min(this.total, Math.floor(this.state.rate * elapsed) + 1);
        // Never fall more than 2 s behind (a stalled tick must not become a burst).
        const n = Math.min(due - this.planned, Math.ceil(this.state.rate * 2));
        if (n > 0) this.send(n);
        if (this.planned >= this.total || !this.state.running) {
          clearInterval(this.timer);
          const wait = (): void => {
            if (this.inflight > 0) {
              setTimeout(wait, 50);
              return;
            }
            this.state.running = false;
            resolve();
          };
          wait();
        }
      };
      this.timer = setInterval(tick, 100);
      tick();
    });
    return this.done;
  }

  stop(): Promise<void> {
    this.state.running = false;
    return this.done ?? Promise.resolve();
  }

  private send(n: number): void {
    const targets = this.targets();
    const first = this.firstTask + this.planned;
    this.planned += n;
    if (targets.length === 0) {
      this.state.failed += n;
      this.state.lastError = this.state.peer ? `peer ${this.state.peer} is not running` : 'no live peer to submit to';
      return;
    }
    const batches = new Map<SubmitTarget, ScenarioTaskInput[]>();
    // Every k-th task of a run is faulty (k = 1 / share): deterministic, and spread over the run.
    const every = this.state.faulty > 0 ? Math.max(2, Math.round(1 / this.state.faulty)) : 0;
    for (let i = 0; i < n; i++) {
      const t = targets[this.rr++ % targets.length]!;
      let b = batches.get(t);
      if (!b) batches.set(t, (b = []));
      const k = first + i;
      const local = k - this.firstTask;
      b.push(every && local % every === every - 1 ? faultyTask(this.state.kind, k) : scenarioTask(this.state.kind, this.state.seed, k));
    }
    for (const [t, tasks] of batches) {
      this.inflight++;
      t.submit(tasks)
        .then(() => {
          this.state.submitted += tasks.length;
          this.state.perPeer[t.name] = (this.state.perPeer[t.name] ?? 0) + tasks.length;
        })
        .catch((e: unknown) => {
          this.state.failed += tasks.length;
          this.state.lastError = `${t.name}: ${(e as Error).message}`;
          this.log(`scenario ${this.state.id}: submit to ${t.name} failed: ${(e as Error).message}`);
        })
        .finally(() => this.inflight--);
    }
  }
}
