// What a daily user of the CLI meets, on real peer processes: `list` searches and pages live tasks
// (archived ones in cli-archive and the dashboard test), `get` shows the task page, a type no peer
// runs is refused (exit 2, with the known types) unless allowed, a permanent failure (bad input)
// is dead after one attempt and plain-text `submit --wait` says why, progress off a terminal ends
// with the final count, peer names work in `partition`, `heal` says what it healed, and a peer
// restarted on port 0 without --bootstrap finds the mesh again (it remembers its port and peers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'am-ux-'));
const peers: Record<string, { child: ChildProcess; ready: ReadyLine }> = {};

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function json(...args: string[]): Promise<any> {
  const r = await run(...args, '--json');
  if (r.code !== 0 && !(r.code === 1 && args.includes('--wait'))) throw new Error(`${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

async function start(name: string, extra: string[] = []): Promise<void> {
  const { child, ready } = await spawnPeer(['--name', name, '--data-dir', join(base, name), '--listen', '/ip4/127.0.0.1/tcp/0', ...extra]);
  peers[name] = { child, ready };
}

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const url = (name: string) => peers[name]!.ready.wsUrl;
const seesAlive = (s: { peers: { name: string; alive: boolean }[] }, name: string) => s.peers.some((p) => p.name === name && p.alive);

beforeAll(async () => {
  await start('UA');
  await start('UB', ['--bootstrap', peers.UA!.ready.multiaddrs[0]!]);
  await waitFor('the mesh', () => json('status', '--peer', url('UA')), (s) => seesAlive(s, 'UB'));
}, 60_000);

afterAll(() => {
  for (const p of Object.values(peers)) p.child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

describe('the CLI a user meets', () => {
  it('list: filters by state, type, peer name and text, newest first, in pages', async () => {
    await json('submit', '--peer', url('UA'), '--type', 'echo', '--payload', '{"n":1}', '--count', '12', '--wait');
    const dead = await json('submit', '--peer', url('UB'), '--type', 'fail', '--payload', '{"times":9}', '--max-attempts', '1', '--wait');
    const all = await json('list', '--peer', url('UA'));
    expect(all.total).toBe(13);
    expect(all.tasks.map((t: { createdAt: number }) => t.createdAt)).toEqual([...all.tasks.map((t: { createdAt: number }) => t.createdAt)].sort((a, b) => b - a));
    const page2 = await json('list', '--peer', url('UA'), '--limit', '5', '--offset', '5');
    expect(page2.tasks).toHaveLength(5);
    expect(page2.tasks.map((t: { id: string }) => t.id)).toEqual(all.tasks.slice(5, 10).map((t: { id: string }) => t.id));
    const onlyDead = await json('list', '--peer', url('UA'), '--state', 'dead');
    expect(onlyDead.tasks.map((t: { id: string }) => t.id)).toEqual(dead.ids);
    expect(onlyDead.tasks[0]).toMatchObject({ type: 'fail', state: 'dead', attempts: 1, archived: false });
    expect(onlyDead.tasks[0].error).toMatch(/deliberate failure/);
    expect((await json('list', '--peer', url('UA'), '--type', 'echo', '--state', 'done')).total).toBe(12);
    expect((await json('list', '--peer', url('UA'), '--search', 'DELIBERATE')).total).toBe(1);
    expect((await json('list', '--peer', url('UA'), '--since', '1h')).total).toBe(13);
    // --peer with a name filters by the peer that ran the task; the URL says whom to ask
    const ranOnB = await json('list', '--peer', url('UA'), '--peer', 'UB', '--state', 'dead');
    expect(ranOnB.tasks.every((t: { peer: string }) => t.peer === 'UB')).toBe(true);
    const text = await run('list', '--peer', url('UA'), '--limit', '3');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/1-3 of 13 \(13 live, 0 archived/);
    expect(text.stdout).toMatch(/next page: --offset 3/);
    const bad = await run('list', '--peer', url('UA'), '--state', 'sleeping');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/state must be one of pending, claimed, running, done, dead, cancelled/);
  }, 60_000);

  it('get: the task page, with its timeline, runs and why it waits', async () => {
    const { ids } = await json('submit', '--peer', url('UA'), '--type', 'echo', '--payload', '{"hello":"page"}', '--wait');
    const t = await json('get', ids[0], '--peer', url('UB'));
    expect(t).toMatchObject({ id: ids[0], type: 'echo', state: 'done', payload: { hello: 'page' }, attempts: 1 });
    expect(t.timeline.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['submitted', 'claim', 'done']));
    expect(t.runs).toHaveLength(1);
    expect(t.runs[0]).toMatchObject({ round: 1, outcome: 'done', canonical: true });
    expect(typeof t.runs[0].ms).toBe('number');
    const text = await run('get', ids[0], '--peer', url('UB'));
    expect(text.stdout).toMatch(/DONE/);
    expect(text.stdout).toMatch(/timeline/);
    expect(text.stdout).toMatch(/payload +\{"hello":"page"\}/);
    const waiting = await json('submit', '--peer', url('UA'), '--type', 'echo', '--delay', '60000');
    const w = await json('get', waiting.ids[0], '--peer', url('UA'));
    expect(w.waiting).toMatchObject({ reason: 'delay' });
    expect((await run('get', waiting.ids[0], '--peer', url('UA'))).stdout).toMatch(/why waiting: delayed until/);
    await json('cancel', waiting.ids[0], '--peer', url('UA'));
    const dep = await json('submit', '--peer', url('UA'), '--type', 'echo', '--depends-on', waiting.ids[0]);
    const d = await waitFor('the dependent to be dead', () => json('get', dep.ids[0], '--peer', url('UA')), (x) => x.state === 'dead');
    expect(d.dependencies).toEqual([{ id: waiting.ids[0], state: 'cancelled', type: 'echo' }]);
    expect((await json('get', waiting.ids[0], '--peer', url('UA'))).dependents.map((x: { id: string }) => x.id)).toEqual(dep.ids);
  }, 60_000);

  it('a type no known peer runs is refused with exit 2 and the known types; --allow-unknown-type submits it', async () => {
    const r = await run('submit', '--peer', url('UA'), '--type', 'traffic.forcast', '--payload', '{}');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no known peer runs agent type "traffic\.forcast"; known types: .*traffic\.forecast/);
    expect(r.stdout).toBe('');
    const ok = await json('submit', '--peer', url('UA'), '--type', 'later.agent', '--allow-unknown-type');
    const t = await json('get', ok.ids[0], '--peer', url('UA'));
    expect(t.state).toBe('pending');
    expect(t.waiting).toMatchObject({ reason: 'no-agent' });
    expect(t.waiting.message).toMatch(/no known peer runs agent type "later\.agent"/);
  }, 30_000);

  it('a permanent failure (bad input) is dead after one attempt; plain --wait says why and ends with the final count', async () => {
    const r = await run('submit', '--peer', url('UA'), '--type', 'traffic.forecast', '--payload', '{"junction":"J1"}', '--wait');
    expect(r.code).toBe(1);
    const line = r.stdout.trim();
    expect(line).toMatch(/^\S+ dead: traffic\.forecast: .+/);
    expect(line).not.toMatch(/null/);
    // stderr is not a terminal here: no redraws, one final count
    expect(r.stderr.trim()).toBe('1/1 finished');
    const id = line.split(' ')[0]!;
    const t = await json('get', id, '--peer', url('UA'));
    expect(t).toMatchObject({ state: 'dead', attempts: 1, deadReason: 'permanent' });
    expect(t.runs[0]).toMatchObject({ outcome: 'failed', permanent: true });
  }, 30_000);

  it('partition takes peer names; heal says what it healed', async () => {
    const p = await run('partition', '--peer', url('UA'), '--block', 'UB');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^blocked: UB \(12D3Koo/);
    await waitFor('UA to see UB away', () => json('status', '--peer', url('UA')), (s) => !seesAlive(s, 'UB'), 20_000);
    const st = await run('status', '--peer', url('UA'));
    expect(st.stdout).toMatch(/UB +away/);
    expect(st.stdout).toMatch(/blocking \(partition\): UB/);
    const h = await run('heal', '--peer', url('UA'));
    expect(h.stdout.trim()).toBe('healed: unblocked UB');
    expect((await run('heal', '--peer', url('UA'))).stdout.trim()).toBe('nothing to heal: this peer blocked no one');
    const bad = await run('partition', '--peer', url('UA'), '--block', 'UZ');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"UZ" is neither a known peer name nor a peer id \(known: UA, UB\)/);
    await waitFor('the mesh whole again', () => json('status', '--peer', url('UA')), (s) => seesAlive(s, 'UB'), 20_000);
  }, 60_000);

  it('bulk retry of dead letters revives every dead task', async () => {
    const before = await json('list', '--peer', url('UA'), '--state', 'dead', '--type', 'fail');
    expect(before.total).toBeGreaterThan(0);
    const r = await json('retry', '--all-dead', '--type', 'fail', '--peer', url('UA'));
    expect(r.retried.sort()).toEqual(before.tasks.map((t: { id: string }) => t.id).sort());
    const usage = await run('retry', '--peer', url('UA'));
    expect(usage.code).toBe(2);
  }, 30_000);

  it('GET /metrics (Prometheus text) and GET /api/metrics (the ring) report what status reports', async () => {
    const http = url('UA').replace(/^ws/, 'http').replace(/\/[^/]*$/, '');
    const st = await json('status', '--peer', url('UA'));
    const res = await fetch(`${http}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(new RegExp(`^agentmesh_tasks\\{state="done"\\} ${st.tasks.done}$`, 'm'));
    expect(text).toMatch(/^agentmesh_run_duration_seconds_bucket\{outcome="done",le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^# TYPE agentmesh_lease_expiries_total counter\nagentmesh_lease_expiries_total \d+$/m);
    expect(text).toMatch(/^# TYPE agentmesh_restores_total counter\nagentmesh_restores_total 0$/m);
    expect(text).toMatch(/^agentmesh_peer_up\{peer="UB",peer_id="12D3Koo\w+"\} 1$/m);
    const ring = (await (await fetch(`${http}/api/metrics`)).json()) as { intervalMs: number; samples: { t: number; done: number }[] };
    expect(ring.intervalMs).toBe(2000);
    expect(ring.samples.length).toBeGreaterThan(0);
    const since = ring.samples.at(-1)!.t;
    const later = (await (await fetch(`${http}/api/metrics?since=${since}`)).json()) as { samples: { t: number }[] };
    expect(later.samples.every((s) => s.t > since)).toBe(true);
  }, 20_000);

  it('a peer restarted on port 0 without --bootstrap finds the mesh again', async () => {
    // UA was started first, with no --bootstrap: it only knows UB because UB dialled it.
    const a = peers.UA!;
    const memory = join(base, 'UA', 'peers.json');
    await waitFor('UA to remember UB', async () => (existsSync(memory) ? readFileSync(memory, 'utf8') : ''), (t) => t.includes(peers.UB!.ready.peerId), 15_000);
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('exit', r));
    await start('UA');
    expect(peers.UA!.ready.peerId).toBe(a.ready.peerId);
    await waitFor('UA and UB to see each other again', async () => [await json('status', '--peer', url('UA')), await json('status', '--peer', url('UB'))], ([sa, sb]) => seesAlive(sa, 'UB') && seesAlive(sb, 'UA'), 30_000);
    const { ids } = await json('submit', '--peer', url('UB'), '--type', 'echo', '--payload', '{"after":"restart"}', '--wait');
    await waitFor('UA to see the new task', () => json('get', ids[0], '--peer', url('UA')).catch(() => ({ state: 'unknown' })), (t) => t.state === 'done', 15_000);
  }, 90_000);
});
