// Queue features end to end through the CLI on real peer processes: retries to a dead letter and
// `retry`, timeouts, cancelling a running task, priorities, delays, workflows (with a dead
// dependency), and idempotency keys submitted on two peers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'am-queue-'));
const peers: { child: ChildProcess; ready: ReadyLine; lines: string[] }[] = [];

/** Runs the CLI with --json; `submit --wait` exits 1 when a task ended dead, with its JSON on stdout. */
async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--json'], { timeout: 60_000 }).catch((e: { code?: number; stdout?: string }) => {
    if (e.code === 1 && args.includes('--wait') && e.stdout) return { stdout: e.stdout };
    throw e;
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

beforeAll(async () => {
  for (const name of ['QA', 'QB']) {
    const lines: string[] = [];
    const extra = peers[0] ? ['--bootstrap', peers[0].ready.multiaddrs[0]!] : [];
    // concurrency 1 on QA makes the order of starts observable (priorities).
    const only = name === 'QA' ? ['--concurrency', '1', '--capabilities', 'solo'] : ['--concurrency', '4'];
    const { child, ready } = await spawnPeer(['--name', name, '--data-dir', join(base, name), ...only, ...extra], { onLine: (l) => lines.push(l) });
    peers.push({ child, ready, lines });
  }
  const end = Date.now() + 20_000;
  while ((await cli('status', '--peer', peers[1]!.ready.wsUrl)).peers.length < 2) {
    if (Date.now() > end) throw new Error('mesh did not form');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(() => {
  for (const p of peers) p.child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

const ws = (i = 0) => peers[i]!.ready.wsUrl;

describe('queue features through the CLI', () => {
  it('retries with backoff to a dead letter keeping every error; `retry` revives it', async () => {
    const r = await cli('submit', '--peer', ws(), '--type', 'fail', '--payload', '{"times":3}', '--max-attempts', '2', '--wait');
    const id = r.ids[0];
    expect(r.tasks[0].state).toBe('dead');
    const dead = await cli('get', id, '--peer', ws(1));
    expect(dead.attempts).toBe(2);
    expect(dead.errors).toHaveLength(2);
    expect(dead.errors[0]).toMatch(/attempt 1/);
    const revived = await cli('retry', id, '--peer', ws(1));
    expect(['pending', 'claimed', 'running']).toContain(revived.state);
    const end = Date.now() + 20_000;
    let t = await cli('get', id, '--peer', ws());
    while (t.state !== 'done' && Date.now() < end) {
      await new Promise((res) => setTimeout(res, 100));
      t = await cli('get', id, '--peer', ws());
    }
    expect(t.state).toBe('done');
    expect(t.result).toEqual({ attempts: 4 });
    expect(t.errors).toHaveLength(3); // rounds 1, 2 and 3 failed; round 4 succeeded
    // Only dead tasks can be revived.
    const again = await run(process.execPath, [CLI, 'retry', id, '--peer', ws()]).catch((e) => e);
    expect(again.code).toBe(2);
    expect(String(again.stderr)).toMatch(/only dead tasks can be retried/);
  }, 60_000);

  it('a run past its timeout is aborted and counts as a failed attempt', async () => {
    const t0 = Date.now();
    const r = await cli('submit', '--peer', ws(1), '--type', 'sleep', '--payload', '{"ms":20000}', '--timeout', '300', '--max-attempts', '1', '--wait');
    expect(r.tasks[0].state).toBe('dead');
    expect(r.tasks[0].error).toMatch(/timeout/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  }, 60_000);

  it('cancel aborts a running task everywhere', async () => {
    const { ids } = await cli('submit', '--peer', ws(1), '--type', 'sleep', '--payload', '{"ms":30000}');
    const end = Date.now() + 10_000;
    while ((await cli('get', ids[0], '--peer', ws())).state !== 'running') {
      if (Date.now() > end) throw new Error('never started');
      await new Promise((r) => setTimeout(r, 100));
    }
    const c = await cli('cancel', ids[0], '--peer', ws());
    expect(c.state).toBe('cancelled');
    const aborted = async () => peers.some((p) => p.lines.some((l) => l.includes(ids[0]) && l.includes('"state":"aborted"')));
    const end2 = Date.now() + 10_000;
    while (!(await aborted()) && Date.now() < end2) await new Promise((r) => setTimeout(r, 100));
    expect(await aborted()).toBe(true);
    expect((await cli('get', ids[0], '--peer', ws(1))).state).toBe('cancelled');
  }, 60_000);

  it('higher priority runs first; a delayed task waits its delay', async () => {
    // Only QA holds "solo" and runs one task at a time, so its start order is the queue order.
    // Each low task runs 1.5 s, longer than a CLI call takes to start, so at most one has begun.
    const low = await cli('submit', '--peer', ws(), '--type', 'sleep', '--payload', '{"ms":1500}', '--count', '4', '--requires', 'solo');
    const high = await cli('submit', '--peer', ws(), '--type', 'sleep', '--payload', '{"ms":50}', '--priority', '10', '--requires', 'solo', '--wait');
    expect(high.tasks[0].state).toBe('done');
    expect(high.tasks[0].peer).toBe('QA');
    const all = [...low.ids, ...high.ids];
    const end = Date.now() + 30_000;
    while ((await Promise.all(low.ids.map((id: string) => cli('get', id, '--peer', ws())))).some((t: { state: string }) => t.state !== 'done')) {
      if (Date.now() > end) throw new Error('low-priority tasks did not finish');
      await new Promise((r) => setTimeout(r, 100));
    }
    const order = peers[0]!.lines.map((l) => JSON.parse(l)).filter((e) => e.state === 'running' && all.includes(e.id)).map((e) => e.id);
    expect(order).toHaveLength(5);
    // At most one low-priority task had started before the high-priority one arrived.
    expect(order.indexOf(high.ids[0])).toBeLessThanOrEqual(1);

    const t0 = Date.now();
    const d = await cli('submit', '--peer', ws(1), '--type', 'echo', '--payload', '"later"', '--delay', '1500', '--wait');
    expect(d.tasks[0].state).toBe('done');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  }, 90_000);

  it('a workflow file runs in dependency order with results as inputs; a dead dependency fails its dependents', async () => {
    const file = join(base, 'wf.json');
    writeFileSync(
      file,
      JSON.stringify({
        tasks: [
          { name: 'count', type: 'echo', payload: { counts: [100, 110, 120, 130, 140, 150] } },
          { name: 'forecast', type: 'traffic.forecast', payload: { junction: 'J9', counts: [100, 110, 120, 130, 140, 150], horizon: 2 }, dependsOn: ['count'] },
          { name: 'broken', type: 'fail', payload: { times: 9 }, maxAttempts: 1 },
          { name: 'after-broken', type: 'echo', payload: 1, dependsOn: ['broken', 'forecast'] },
        ],
      }),
    );
    const r = await cli('submit', '--peer', ws(), '--workflow', file, '--wait');
    const byName = (n: string) => r.tasks.find((t: { id: string }) => t.id === r.names[n]);
    expect(byName('count').state).toBe('done');
    expect(byName('forecast').state).toBe('done');
    expect(byName('forecast').result.forecast).toHaveLength(2);
    expect(byName('broken').state).toBe('dead');
    expect(byName('after-broken').state).toBe('dead');
    const bad = join(base, 'cycle.json');
    writeFileSync(bad, JSON.stringify({ tasks: [{ name: 'a', type: 'echo', dependsOn: ['b'] }, { name: 'b', type: 'echo', dependsOn: ['a'] }] }));
    const cyc = await run(process.execPath, [CLI, 'submit', '--peer', ws(), '--workflow', bad]).catch((e) => e);
    expect(cyc.code).toBe(2);
    expect(String(cyc.stderr)).toMatch(/cycle: a -> b -> a|cycle: b -> a -> b/);
    // A misspelt field is refused (not ignored), and nothing of the workflow is submitted.
    // (All tasks counted, whatever their state: another test's task may still change state.)
    const total = async () => Object.values((await cli('status', '--peer', ws())).tasks as Record<string, number>).reduce((a, b) => a + b, 0);
    const before = await total();
    const typo = join(base, 'typo.json');
    writeFileSync(typo, JSON.stringify({ tasks: [{ name: 'a', type: 'echo' }, { name: 'b', type: 'echo', dependsOn: ['a'], notBefore: 5 }] }));
    const refused = await run(process.execPath, [CLI, 'submit', '--peer', ws(), '--workflow', typo]).catch((e) => e);
    expect(refused.code).toBe(2);
    expect(String(refused.stderr)).toContain('unknown task field "notBefore" (did you mean delayMs?)');
    expect(await total()).toBe(before);
  }, 60_000);

  it('an exclusive task needs a quorum: a minority side leaves it waiting, and it runs once after heal', async () => {
    const ok = await cli('submit', '--peer', ws(), '--type', 'echo', '--payload', '"q1"', '--exclusive', '--wait');
    expect(ok.tasks[0].state).toBe('done');
    // Two peers: a quorum is both. Split them; each side is a minority.
    await cli('partition', '--peer', ws(), '--block', peers[1]!.ready.peerId);
    const end = Date.now() + 15_000;
    while ((await cli('status', '--peer', ws())).peers.filter((p: { alive: boolean }) => p.alive).length > 1) {
      if (Date.now() > end) throw new Error('split not seen');
      await new Promise((r) => setTimeout(r, 200));
    }
    const { ids } = await cli('submit', '--peer', ws(), '--type', 'echo', '--payload', '"q2"', '--exclusive');
    await new Promise((r) => setTimeout(r, 2500));
    const waiting = await cli('get', ids[0], '--peer', ws());
    expect(['pending', 'claimed']).toContain(waiting.state);
    expect(peers.some((p) => p.lines.some((l) => l.includes(ids[0]) && l.includes('"state":"running"')))).toBe(false);
    await cli('heal', '--peer', ws());
    const end2 = Date.now() + 20_000;
    let t = await cli('get', ids[0], '--peer', ws(1)).catch(() => ({ state: 'unknown' }));
    while (t.state !== 'done' && Date.now() < end2) {
      await new Promise((r) => setTimeout(r, 200));
      t = await cli('get', ids[0], '--peer', ws(1)).catch(() => ({ state: 'unknown' }));
    }
    expect(t.state).toBe('done');
    expect(t.duplicates).toBe(0);
  }, 60_000);

  it('an idempotency key gives one task from any peer', async () => {
    const a = await cli('submit', '--peer', ws(), '--type', 'echo', '--payload', '"once"', '--key', 'order-42');
    const b = await cli('submit', '--peer', ws(1), '--type', 'echo', '--payload', '"once"', '--key', 'order-42', '--wait');
    expect(b.ids).toEqual(a.ids);
    expect(b.tasks[0].state).toBe('done');
    const s = await cli('status', '--peer', ws(1));
    expect(s.duplicateRuns).toBe(0);
  }, 60_000);
});
