// Calls to the demo server's control API (demo/src/server.ts): the things a page cannot do through
// its Yjs replica (start and kill processes, cut the network, feed scenarios), plus each peer's own
// /api/status (its view of who is alive), which the page cannot reach without that server.
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
  self?: { name: string; peerId: string };
  blocked?: string[];
  /** Fingerprint of the peer's board (`boardDigest` of @agentmesh/peer), from the demo server. */
  digest?: string;
  error?: string;
}

export interface DemoStatus {
  peers: DemoPeer[];
  partition: string[][] | null;
  status: Record<string, PeerStatusJson | null>;
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

export const api = {
  peers: () => call<{ peers: DemoPeer[]; partition: string[][] | null }>('GET', 'demo/peers', undefined, 3000),
  status: () => call<DemoStatus>('GET', 'demo/status', undefined, 4000),
  scenarios: () => call<{ scenarios: ScenarioJson[] }>('GET', 'demo/scenarios', undefined, 3000),
  kill: (name: string) => call<ActionResult>('POST', 'demo/kill', { name }),
  restart: (name: string) => call<ActionResult>('POST', 'demo/restart', { name }, 40_000),
  partition: (groups: string[][]) => call<ActionResult>('POST', 'demo/partition', { groups }),
  heal: () => call<ActionResult>('POST', 'demo/heal', {}),
  scenario: (req: { kind: string; rate: number; seconds: number; faulty?: number; peer?: string }) => call<ActionResult & { id: string; total: number }>('POST', 'demo/scenario', req),
};
