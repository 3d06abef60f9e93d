// The bounded document end to end on real peer processes: finished tasks leave the live document
// for each peer's file archive after the retention, `status` and `get` still read them, a killed
// peer restarts with its archive, and an archived dead task can be retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'am-archive-'));
const peers: { child: ChildProcess; ready: ReadyLine; lines: string[]; name: string }[] = [];
const ARCHIVE_FLAGS = ['--retention-ms', '800', '--max-finished', '5', '--max-tombstones', '4'];

async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--json'], { timeout: 60_000 }).catch((e: { code?: number; stdout?: string }) => {
    if (e.code === 1 && args.includes('--wait') && e.stdout) return { stdout: e.stdout };
    throw e;
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

async function start(name: string, i: number): Promise<void> {
  const lines: string[] = [];
  const extra = i > 0 ? ['--bootstrap', peers[0]!.ready.multiaddrs[0]!] : [];
  const { child, ready } = await spawnPeer(['--name', name, '--data-dir', join(base, name), ...ARCHIVE_FLAGS, ...extra], { onLine: (l) => lines.push(l) });
  peers[i] = { child, ready, lines, name };
}

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

beforeAll(async () => {
  for (const [i, name] of ['AA', 'AB', 'AC'].entries()) await start(name, i);
  await waitFor('mesh', () => cli('status', '--peer', peers[2]!.ready.wsUrl), (s) => s.peers.length === 3);
}, 60_000);

afterAll(() => {
  for (const p of peers) p.child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

describe('bounded document through the CLI', () => {
  it('archives finished tasks; status and get still read them, also after kill -9', async () => {
    const sub = await cli('submit', '--peer', peers[0]!.ready.wsUrl, '--type', 'echo', '--payload', '{"x":1}', '--wait');
    const first = sub.ids[0] as string;
    const many = await cli('submit', '--peer', peers[1]!.ready.wsUrl, '--type', 'echo', '--payload', '{"y":2}', '--wait');
    const dead = await cli('submit', '--peer', peers[2]!.ready.wsUrl, '--type', 'fail', '--payload', '{"times":9}', '--max-attempts', '1', '--wait');
    expect(dead.tasks[0].state).toBe('dead');
    const fill = [];
    for (let i = 0; i < 8; i++) fill.push(cli('submit', '--peer', peers[i % 3]!.ready.wsUrl, '--type', 'echo', '--payload', JSON.stringify({ i }), '--wait'));
    await Promise.all(fill);
    // after the retention, a new generation moves finished tasks out of the live document
    for (const p of peers) {
      const s = await waitFor('archival', () => cli('status', '--peer', p.ready.wsUrl), (s) => s.generation?.n >= 1 && s.archived.total >= 5);
      expect(s.tasks.done).toBe(10);
      expect(s.tasks.dead).toBe(1);
    }
    const got = await waitFor('archived get', () => cli('get', first, '--peer', peers[2]!.ready.wsUrl), (t) => t.archived === true);
    expect(got).toMatchObject({ id: first, state: 'done', result: { x: 1 }, archived: true });
    expect(readdirSync(join(base, 'AC', 'archive'))).toContain('archive.db');
    expect(peers.some((p) => p.lines.some((l) => l.includes('"event":"generation"')))).toBe(true);
    // kill -9 and restart: the archive and the generation come back from disk
    peers[2]!.child.kill('SIGKILL');
    await new Promise((r) => peers[2]!.child.once('exit', r));
    await start('AC', 2);
    const again = await cli('get', first, '--peer', peers[2]!.ready.wsUrl);
    expect(again).toMatchObject({ state: 'done', result: { x: 1 } });
    const s2 = await cli('status', '--peer', peers[2]!.ready.wsUrl);
    expect(s2.tasks.done).toBe(10);
    expect(s2.generation.n).toBeGreaterThanOrEqual(1);
    expect(s2.archived.total).toBeGreaterThanOrEqual(5);
    // an archived dead task can be revived (its `fail` always fails, so it ends dead again)
    const deadId = dead.ids[0] as string;
    await waitFor('dead archived', () => cli('get', deadId, '--peer', peers[0]!.ready.wsUrl), (t) => t.archived === true);
    const revived = await cli('retry', deadId, '--peer', peers[0]!.ready.wsUrl);
    expect(['pending', 'claimed', 'running', 'dead']).toContain(revived.state);
    const back = await waitFor('revived run', () => cli('get', deadId, '--peer', peers[1]!.ready.wsUrl), (t) => t.attempts >= 2 && t.state === 'dead' && !t.archived);
    expect(back.errors.length).toBeGreaterThanOrEqual(2);
    // Its entries came back signed again from the batch bytes the archive kept (its record refers
    // to its batches): the other peers took them in, and refused nothing.
    for (const p of peers) expect((await cli('status', '--peer', p.ready.wsUrl)).trust).toMatchObject({ signed: true, badSignature: 0, wrongAuthor: 0 });
    void many;
  }, 120_000);
});
