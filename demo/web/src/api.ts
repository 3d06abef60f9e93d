// Calls the page makes: the demo server's control API (demo/src/server.ts: start and kill
// processes, cut the network, feed scenarios, every peer's /api/status), and each peer's own HTTP
// API passed through that server (/demo/peer/NAME/api/...): task lists and pages, retry, cancel,
// metrics rings and shared data. Everything the page shows comes from the peers' answers, which
// cover the live document and each peer's archive alike.
import type { StatusPeer } from '@agentmesh/peer';

export interface DemoPeer {
  name: string;
  peerId: string;
  capacity: number;
  wsUrl: string;
  httpUrl: string;
  state: 'running' | 'killed' | 'exited' | 'starting';
  pid: number | null;
  restarts: number;
  blocked: string[];
}

export interface PeerStatusJson {
  peers: StatusPeer[];
  tasks: Record<string, number>;
  duplicateRuns: number;
  archived?: { done: number; dead: number; cancelled: number; total: number };
  generation?: { n: number; name: string };
  self?: { name: string; peerId: string; capacity: number; concurrency: number; capabilities: string[]; load: number; running: number; counters: { done: number; failed: number; dataWrites: number }; startedAt?: number };
  blocked?: string[];
  blockedNames?: string[];
  agentTypes?: string[];
  doc?: { bytes: number | null; tasks: number; data: number; archiveBytes: number };
  at?: number;
  /** Fingerprint of the peer's live board (`boardDigest` of @agentmesh/peer), from the demo server. */
  digest?: string;
  error?: string;
}

export interface DemoStatus {
  peers: DemoPeer[];
  partition: string[][] | null;
  status: Record<string, PeerStatusJson | null>;
  lastKnown?: Record<string, { at: number; status: PeerStatusJson }>;
  at: number;
}

export interface ScenarioJson {
  id: string;
  kind: string;
  rate: number;
  seconds: number;
  peer: string | null;
  submitted: number;
  failed: number;
  total: number;
  lastError: string | null;
  running: boolean;
  perPeer: Record<string, number>;
}

export interface ActionResult {
  ok?: boolean;
  message?: string;
  error?: string;
}

export interface ListRow {
  id: string;
  type: string;
  state: string;
  peer: string | null;
  peerId: string | null;
  createdAt: number | null;
  finishedAt: number | null;
  attempts: number;
  duplicates: number;
  key: string | null;
  error: string | null;
  archived: boolean;
}

export interface ListResult {
  tasks: ListRow[];
  total: number;
  offset: number;
  limit: number;
  live: number;
  archived: number;
}

export interface MetricsSample {
  t: number;
  done: number;
  failed: number;
  dataWrites: number;
  load: number;
  running: number;
  tasks: Record<string, number>;
  duplicateRuns: number;
  archived: number;
  docBytes: number | null;
  docTasks: number;
  generation: number;
  archiveBytes: number;
  peersAlive: number;
  peersKnown: number;
}

export interface MetricsJson {
  name: string;
  peerId: string;
  capacity: number;
  intervalMs: number;
  samples: MetricsSample[];
}

export interface DataJson {
  entries: { namespace: string; key: string; value: unknown; by: string; byName: string | null; at: number; task: string | null }[];
  namespaces: Record<string, number>;
  total: number;
}

export interface TaskPageJson {
  id: string;
  type: string;
  state: string;
  result: unknown;
  attempts: number;
  peer: string | null;
  error?: string;
  errors?: string[];
  duplicates?: number;
  createdAt?: number;
  archived?: boolean;
  payload?: unknown;
  round?: number;
  deadReason?: string;
  spec?: { priority: number; maxAttempts: number; timeoutMs: number; delayMs: number; requires: string[]; dependsOn: string[]; key?: string; exclusive: boolean; strategy: string; createdBy: string; createdByName?: string };
  inputs?: Record<string, unknown>;
  dependencies?: { id: string; state: string; type: string }[];
  dependents?: { id: string; state: string; type: string }[];
  timeline?: { at: number; kind: string; round?: number; name?: string; text: string }[];
  runs?: { round: number; name: string; start: number | null; end: number | null; ms: number | null; outcome: string; error?: string; canonical?: boolean; duplicate?: boolean; permanent?: boolean }[];
  duplicateRuns?: { round: number; name: string; at: number; ms: number; why: string }[];
  waiting?: { reason: string; message: string };
  finishedAt?: number;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs), cache: 'no-store' };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let j: unknown;
  try {
    j = await res.json();
  } catch {
    throw new Error(`HTTP ${res.status}: not JSON`);
  }
  if (!res.ok) throw new Error((j as ActionResult).error ?? `HTTP ${res.status}`);
  return j as T;
}

const peerPath = (name: string, path: string) => `demo/peer/${encodeURIComponent(name)}${path}`;

export const api = {
  status: () => call<DemoStatus>('GET', 'demo/status', undefined, 4000),
  scenarios: () => call<{ scenarios: ScenarioJson[] }>('GET', 'demo/scenarios', undefined, 3000),
  kill: (name: string) => call<ActionResult>('POST', 'demo/kill', { name }),
  restart: (name: string) => call<ActionResult>('POST', 'demo/restart', { name }, 40_000),
  partition: (groups: string[][]) => call<ActionResult>('POST', 'demo/partition', { groups }),
  heal: () => call<ActionResult>('POST', 'demo/heal', {}),
  scenario: (req: { kind: string; rate: number; seconds: number; faulty?: number; peer?: string }) => call<ActionResult & { id: string; total: number }>('POST', 'demo/scenario', req),
  // A peer's own API, through the demo server.
  list: (peer: string, q: URLSearchParams) => call<ListResult>('GET', peerPath(peer, `/api/list?${q}`), undefined, 8000),
  task: (peer: string, id: string) => call<TaskPageJson>('GET', peerPath(peer, `/api/tasks/${encodeURIComponent(id)}`), undefined, 8000),
  retry: (peer: string, id: string) => call<TaskPageJson>('POST', peerPath(peer, `/api/tasks/${encodeURIComponent(id)}/retry`), {}),
  cancel: (peer: string, id: string) => call<TaskPageJson>('POST', peerPath(peer, `/api/tasks/${encodeURIComponent(id)}/cancel`), { reason: 'cancelled from the dashboard' }),
  retryDead: (peer: string) => call<{ retried: string[]; failed: { id: string; error: string }[]; remaining: number }>('POST', peerPath(peer, '/api/retry-dead'), {}, 60_000),
  metrics: (peer: string, since: number) => call<MetricsJson>('GET', peerPath(peer, `/api/metrics?since=${since}`), undefined, 5000),
  data: (peer: string) => call<DataJson>('GET', peerPath(peer, '/api/data?limit=300'), undefined, 5000),
};
