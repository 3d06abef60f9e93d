// The simulator's invariants (packages/sim/src/checks.ts), asked of real peer processes over their
// APIs once a fault has healed: every acknowledged task is known everywhere and ended (done/dead),
// every replica names the same winner and the right result, duplicate runs only on tasks a fault
// justifies, and the replicas converged (same status totals, same board digest, same document
// content read by a stock y-websocket client from each peer).

import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { boardDigest } from '../../dist/index.js';
import { makeUntil } from '../helpers.js';
import { TOKEN, WS_PORT, type NetPeer, type TaskRow } from './mesh.js';

export const until = makeUntil({ timeoutMs: 60_000, everyMs: 250 });

export interface RunReport {
  lostTasks: number;
  unsettled: number;
  tasksWithoutOneWinner: number;
  wrongResults: number;
  duplicateRuns: number;
  /** Duplicate runs of tasks no fault could have caught in flight. */
  unjustifiedDuplicates: number;
  problems: string[];
}

const TERMINAL = new Set(['done', 'dead']);

/** Waits until every peer holds every id ended and the peers agree on totals and board digest. */
export async function waitSettled(peers: NetPeer[], ids: string[], timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  // The probe throws what is still missing: the timeout error names it.
  await until(`${ids.length} tasks ended and the same board on ${peers.map((p) => p.name).join(',')}`, async () => {
    for (const p of peers) {
      const open = (await p.tasks(ids)).filter((r) => !TERMINAL.has(r.state));
      if (open.length > 0) throw new Error(`${p.name} has ${open.length} not ended, e.g. ${open.slice(0, 3).map((r) => `${r.id}=${r.state}${r.peer ? `@${r.peer}` : ''}`).join(' ')}`);
    }
    const statuses = await Promise.all(peers.map((p) => p.status()));
    const totals = statuses.map((s) => JSON.stringify(s.tasks));
    if (totals.some((t) => t !== totals[0])) throw new Error(`totals differ: ${statuses.map((s, i) => `${peers[i]!.name} ${totals[i]} alive ${s.peers.filter((x) => x.alive).map((x) => x.name).join('')}`).join('; ')}`);
    const digests = await Promise.all(peers.map(async (p) => boardDigest(await p.tasks())));
    if (digests.some((d) => d !== digests[0])) throw new Error(`board digests differ: ${digests.join(' ')}`);
    return true;
  }, timeoutMs);
  return Date.now() - t0;
}

/**
 * The invariants. `expected` maps every acknowledged id to its right result; `exposed` names the
 * tasks a fault may have caught in flight (a duplicate run is justified only for those).
 */
export async function checkRun(peers: NetPeer[], expected: Map<string, unknown>, exposed: ReadonlySet<string>): Promise<RunReport> {
  const r: RunReport = { lostTasks: 0, unsettled: 0, tasksWithoutOneWinner: 0, wrongResults: 0, duplicateRuns: 0, unjustifiedDuplicates: 0, problems: [] };
  const note = (m: string) => r.problems.length < 8 && r.problems.push(m);
  const ids = [...expected.keys()];
  const rows = await Promise.all(peers.map((p) => p.tasks(ids)));
  for (const [k, id] of ids.entries()) {
    const views = rows.map((rs) => rs[k]!);
    const missing = peers.filter((_, i) => views[i]!.state === 'unknown');
    if (missing.length > 0) {
      r.lostTasks++;
      note(`task ${id} acknowledged but unknown on ${missing.map((p) => p.name).join(',')}`);
      continue;
    }
    const states = new Set(views.map((v) => v.state));
    if (states.size > 1 || !TERMINAL.has(views[0]!.state)) {
      r.unsettled++;
      note(`task ${id} not settled: ${views.map((v, i) => `${peers[i]!.name}=${v.state}`).join(' ')}`);
      continue;
    }
    const canon = views.map((v) => `${v.state}|${v.peer}|${v.attempts}|${JSON.stringify(v.result)}`);
    if (canon.some((c) => c !== canon[0])) {
      r.tasksWithoutOneWinner++;
      note(`task ${id} has no single canonical outcome: ${[...new Set(canon)].join(' vs ')}`);
      continue;
    }
    if (views[0]!.state !== 'done' || JSON.stringify(views[0]!.result) !== JSON.stringify(expected.get(id))) {
      r.wrongResults++;
      note(`task ${id} ended ${views[0]!.state} with ${JSON.stringify(views[0]!.result)}, expected done with ${JSON.stringify(expected.get(id))}`);
    }
  }
  // Duplicate runs, per task, from every replica (they must agree once converged).
  const fulls: TaskRow[][] = [];
  for (let i = 0; i < ids.length; i += 16) {
    fulls.push(...(await Promise.all(ids.slice(i, i + 16).map((id) => Promise.all(peers.map((p) => p.task(id)))))));
  }
  for (const [k, id] of ids.entries()) {
    const full = fulls[k]!;
    const dups = full.map((t) => t.duplicates ?? 0);
    if (dups.some((d) => d !== dups[0])) note(`task ${id}: replicas count different duplicate runs ${dups.join('/')}`);
    const d = Math.max(...dups);
    r.duplicateRuns += d;
    if (d > 0 && !exposed.has(id)) {
      r.unjustifiedDuplicates += d;
      note(`task ${id} ran ${d + 1} times though no fault caught it in flight (winner ${full[0]!.peer})`);
    }
  }
  return r;
}

/** A digest of one peer's document as a stock y-websocket client reads it from that peer. */
export async function documentFingerprint(p: NetPeer, timeoutMs = 20_000): Promise<{ digest: string; stateVector: string }> {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`ws://${p.node.mgmt}:${WS_PORT}`, 'agentmesh', doc, { WebSocketPolyfill: WebSocket as never, params: { token: TOKEN }, connect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${p.name}: y-websocket did not sync within ${timeoutMs} ms`)), timeoutMs);
      provider.once('sync', (synced: boolean) => {
        if (!synced) return;
        clearTimeout(t);
        resolve();
      });
    });
    const h = createHash('sha256');
    for (const root of ['meta', 'tasks', 'facts', 'peers', 'data', 'segs', 'acts']) {
      const m = doc.getMap(root);
      h.update(`#${root}\n`);
      for (const key of [...m.keys()].sort()) {
        const v = m.get(key);
        h.update(`${key}=${v instanceof Uint8Array ? createHash('sha256').update(v).digest('hex') : JSON.stringify(v)}\n`);
      }
    }
    const sv = [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0]);
    return { digest: h.digest('hex').slice(0, 16), stateVector: JSON.stringify(sv) };
  } finally {
    provider.destroy();
    doc.destroy();
  }
}

/** Waits until every peer's document reads the same through y-websocket; returns the digest. */
export async function waitSameDocument(peers: NetPeer[], timeoutMs = 30_000): Promise<string> {
  return until('the same document on every peer (y-websocket fingerprints)', async () => {
    const fps = await Promise.all(peers.map((p) => documentFingerprint(p)));
    return fps.every((f) => f.digest === fps[0]!.digest && f.stateVector === fps[0]!.stateVector) && fps[0]!.digest;
  }, timeoutMs);
}

/** Waits until each peer sees exactly the given peers alive (by name). */
export async function waitAlive(peers: NetPeer[], expect: (p: NetPeer) => string[], what: string, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  await until(what, async () => {
    for (const p of peers) {
      const alive = await p.aliveNames();
      if (JSON.stringify(alive) !== JSON.stringify([...expect(p)].sort())) return false;
    }
    return true;
  }, timeoutMs);
  return Date.now() - t0;
}

/** Ids of tasks not yet ended on at least one of the peers (what a fault can catch in flight). */
export async function inFlight(peers: NetPeer[], ids: string[]): Promise<Set<string>> {
  const open = new Set<string>();
  for (const p of peers) {
    for (const row of await p.tasks(ids)) if (!TERMINAL.has(row.state)) open.add(row.id);
  }
  return open;
}
