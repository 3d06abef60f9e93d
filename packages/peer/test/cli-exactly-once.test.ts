// Exactly-once on real processes (issue 12): three `agentmesh peer` processes over libp2p on
// loopback, no faults. 20,000 tasks through several document generations, and a burst of 200
// clients submitting at once, must each end with every task done once: no task with a second
// successful run (status's duplicateRuns, archived tasks included) and, from every peer's own
// counters, exactly one run ended per task (no run started twice and aborted either).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';
import { isRunning, stopChild } from '../dist/cli/processes.js';
import type { ChildProcess } from 'node:child_process';
import { makeUntil } from './helpers.js';

const base = mkdtempSync(join(tmpdir(), 'am-once-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (isRunning(c)) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

interface Status {
  tasks: Record<string, number>;
  duplicateRuns: number;
  generation: { n: number; name: string };
  peers: { alive: boolean }[];
  self: { counters: { done: number; failed: number; aborted: number } };
}

const until = makeUntil({ timeoutMs: 60_000, everyMs: 250 });

async function start(name: string, extra: string[]): Promise<{ child: ChildProcess; ready: ReadyLine; http: string }> {
  const { child, ready } = await spawnPeer(['--name', name, '--data-dir', join(base, name), '--log-level', 'warn', ...extra], {});
  children.push(child);
  return { child, ready, http: ready.wsUrl.replace(/^ws/, 'http').replace(/\/agentmesh$/, '') };
}

async function status(http: string): Promise<Status> {
  return (await (await fetch(`${http}/api/status`)).json()) as Status;
}


async function mesh(prefix: string, extra: string[]): Promise<{ child: ChildProcess; ready: ReadyLine; http: string }[]> {
  const a = await start(`${prefix}A`, extra);
  const b = await start(`${prefix}B`, [...extra, '--bootstrap', a.ready.multiaddrs[0]!]);
  const c = await start(`${prefix}C`, [...extra, '--bootstrap', a.ready.multiaddrs[0]!]);
  const peers = [a, b, c];
  await until('full mesh', async () => (await Promise.all(peers.map((p) => status(p.http)))).every((s) => s.peers.filter((x) => x.alive).length === 3));
  return peers;
}

/** Every peer agrees all `n` tasks are done (live or archived); then the exactly-once checks. */
async function expectOnce(peers: { http: string }[], n: number, label: string): Promise<Status[]> {
  const doneOf = (s: Status) => s.tasks.done ?? 0; // live and archived tasks, each once
  let last: Status[] = [];
  const statuses = await until(
    `${label}: ${n} done on every peer`,
    async () => {
      const s = (last = await Promise.all(peers.map((p) => status(p.http))));
      return s.every((x) => doneOf(x) === n && (x.tasks.running ?? 0) === 0) && s;
    },
    240_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last seen: ${JSON.stringify(last.map((x) => ({ tasks: x.tasks, generation: x.generation.n, counters: x.self.counters })))}`);
  });
  const ended = statuses.reduce((sum, s) => sum + s.self.counters.done + s.self.counters.failed + s.self.counters.aborted, 0);
  for (const s of statuses) expect(s.duplicateRuns, `${label}: duplicate runs`).toBe(0);
  expect(ended, `${label}: runs ended over all peers (one per task)`).toBe(n);
  return statuses;
}

describe('exactly once on three real peers, no faults', () => {
  it('20,000 tasks through several document generations: every task run once', async () => {
    const peers = await mesh('G', ['--capacity', '2000', '--concurrency', '100', '--agents', 'echo', '--max-finished', '1000', '--max-tombstones', '10']);
    const t0 = Date.now();
    const N = 20_000;
    const per = 500;
    // Batches of 500 spread over the three peers, a few in flight at once (like a busy producer),
    // paced so that archival and new generations happen while tasks are still coming and running.
    const batches = Array.from({ length: N / per }, (_, i) => i);
    let generationsWhileSubmitting = 0;
    for (let i = 0; i < batches.length; i += 4) {
      if (i > 0) await new Promise((r) => setTimeout(r, 700));
      generationsWhileSubmitting = (await status(peers[0]!.http)).generation.n;
      await Promise.all(
        batches.slice(i, i + 4).map(async (b) => {
          const res = await fetch(`${peers[b % 3]!.http}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'echo', payload: { b }, count: per }) });
          expect(res.status).toBe(200);
        }),
      );
    }
    const statuses = await expectOnce(peers, N, '20k');
    const generations = Math.min(...statuses.map((s) => s.generation.n));
    expect(generationsWhileSubmitting, 'document generations started while tasks were coming in').toBeGreaterThanOrEqual(2);
    console.log(`20000 tasks on 3 peers in ${Date.now() - t0} ms through generation ${generations} (${generationsWhileSubmitting} while submitting): duplicate runs 0, runs ended 20000`);
    await Promise.all(peers.map((p) => stopChild(p.child, 10_000)));
  }, 400_000);

  it('200 clients submitting 10 tasks each at once: every task run once', async () => {
    const peers = await mesh('B', ['--capacity', '500', '--concurrency', '50', '--agents', 'echo,sleep']);
    const t0 = Date.now();
    let slowestHealthMs = 0;
    const probe = (async () => {
      // /healthz keeps answering during the burst (how long it took at worst is printed).
      while (Date.now() - t0 < 5_000) {
        const t = Date.now();
        await fetch(`${peers[0]!.http}/healthz`).catch(() => undefined);
        slowestHealthMs = Math.max(slowestHealthMs, Date.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const clients = Array.from({ length: 200 }, (_, i) =>
      fetch(`${peers[i % 3]!.http}/api/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: i % 2 === 0 ? 'echo' : 'sleep', payload: i % 2 === 0 ? { client: i } : { ms: 20 }, count: 10 }),
      }).then((r) => r.status),
    );
    const codes = await Promise.all(clients);
    expect(codes.every((c) => c === 200)).toBe(true);
    await probe;
    await expectOnce(peers, 2000, 'burst');
    console.log(`200 clients x 10 tasks on 3 peers done in ${Date.now() - t0} ms: duplicate runs 0, runs ended 2000; slowest /healthz during the burst ${slowestHealthMs} ms`);
    await Promise.all(peers.map((p) => stopChild(p.child, 10_000)));
  }, 300_000);
});
