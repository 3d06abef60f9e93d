// The CLI peer's event lines (--json on stdout) are buffered and written once per event-loop turn:
// every line still comes out, whole, in the order its events happened, with the time of its event;
// SIGTERM ends with the `stopped` line. The buffer itself (line-buffer.ts): one sink write per
// turn, and nothing lost when the process exits, throws or rejects by itself.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPeer } from '../dist/cli/up-command.js';
import { LineBuffer } from '../dist/cli/line-buffer.js';
import { until } from './helpers.js';

const base = mkdtempSync(join(tmpdir(), 'am-events-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

interface TaskLine {
  event: string;
  id?: string;
  state?: string;
  round?: number;
  peer?: string;
  t: number;
}

describe('CLI peer event lines, batched', () => {
  it('200 tasks: every running and done line is there, well-formed, in order per task; SIGTERM ends with stopped', async () => {
    const lines: string[] = [];
    const { child, ready } = await spawnPeer(['--name', 'EV', '--data-dir', join(base, 'EV'), '--capacity', '1000000', '--concurrency', '50'], {
      onLine: (l) => lines.push(l),
    });
    children.push(child);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const api = ready.wsUrl.replace(/^ws:/, 'http:').replace(/\/[^/]*$/, '/api/tasks');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'echo', payload: { i }, count: 50 }) });
      expect(res.status).toBe(200);
      ids.push(...((await res.json()) as { ids: string[] }).ids);
    }
    expect(new Set(ids).size).toBe(200);
    const doneCount = () => lines.filter((l) => l.includes('"state":"done"')).length;
    await until(() => doneCount() >= 200, 60_000, '200 done lines');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const parsed = lines.map((l) => JSON.parse(l) as TaskLine); // every line is whole JSON
    expect(parsed.at(-1)).toMatchObject({ event: 'stopped', name: 'EV' });
    let lastT = 0;
    for (const e of parsed) {
      expect(typeof e.event).toBe('string');
      expect(Number.isSafeInteger(e.t)).toBe(true);
      expect(e.t).toBeGreaterThanOrEqual(lastT); // stdout order is the order of the events
      lastT = e.t;
    }
    const tasks = parsed.filter((e) => e.event === 'task');
    for (const id of ids) {
      const mine = tasks.filter((e) => e.id === id);
      expect(mine.map((e) => e.state)).toEqual(['running', 'done']);
      expect(mine.every((e) => e.round === 1 && e.peer === 'EV')).toBe(true);
      expect(mine[0]!.t).toBeLessThanOrEqual(mine[1]!.t);
    }
    expect(tasks.length).toBe(400);
  }, 90_000);
});

describe('CLI peer event lines of some task types only (--task-events)', () => {
  it('prints the running and done lines of the named types, each with its type, and none of the others', async () => {
    const lines: string[] = [];
    const { child, ready } = await spawnPeer(['--name', 'TE', '--data-dir', join(base, 'TE'), '--capacity', '1000000', '--concurrency', '50', '--task-events', 'sleep'], {
      onLine: (l) => lines.push(l),
    });
    children.push(child);
    const api = ready.wsUrl.replace(/^ws:/, 'http:').replace(/\/[^/]*$/, '/api/tasks');
    const submit = async (type: string, payload: unknown, count: number): Promise<string[]> => {
      const res = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, payload, count }) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { ids: string[] }).ids;
    };
    const echoes = await submit('echo', { i: 1 }, 30);
    const sleeps = await submit('sleep', { ms: 0 }, 10);
    const more = await submit('echo', { i: 2 }, 30);
    const status = ready.wsUrl.replace(/^ws:/, 'http:').replace(/\/[^/]*$/, '/api/status');
    // Every task done (the status counts them), then the lines: only the sleeps'.
    const done = async () => ((await (await fetch(status)).json()) as { tasks: { done: number } }).tasks.done;
    await until('70 tasks done', async () => (await done()) >= 70, 60_000);
    await until(() => lines.filter((l) => l.includes('"state":"done"')).length >= 10, 30_000, '10 done lines');
    const tasks = lines.map((l) => JSON.parse(l) as TaskLine & { type?: string }).filter((e) => e.event === 'task');
    expect(tasks.length).toBe(20);
    expect(new Set(tasks.map((e) => e.id))).toEqual(new Set(sleeps));
    expect(tasks.every((e) => e.type === 'sleep')).toBe(true);
    for (const id of [...echoes, ...more]) expect(tasks.some((e) => e.id === id)).toBe(false);
    child.kill('SIGTERM');
  }, 90_000);
});

describe('line buffer', () => {
  it('writes the lines of one turn in one sink call, in order, and never throws', async () => {
    const chunks: string[] = [];
    const b = new LineBuffer((s: string) => chunks.push(s));
    for (let i = 0; i < 100; i++) b.line(`l${i}`);
    b.write('raw');
    expect(chunks).toEqual([]);
    expect(b.queued).toBeGreaterThan(0);
    await new Promise((r) => setImmediate(r));
    expect(chunks.length).toBe(1);
    expect(chunks[0]).toBe(Array.from({ length: 100 }, (_, i) => `l${i}\n`).join('') + 'raw');
    b.flush(); // nothing queued: no call
    expect(chunks.length).toBe(1);
    b.line('x');
    b.flush();
    expect(chunks).toEqual([chunks[0], 'x\n']);
    await new Promise((r) => setImmediate(r));
    expect(chunks.length).toBe(2);

    const broken = new LineBuffer(() => {
      throw new Error('EPIPE');
    });
    broken.line('lost');
    expect(() => broken.flush()).not.toThrow();
    expect(broken.queued).toBe(0);
  });

  const LB = fileURLToPath(new URL('../dist/cli/line-buffer.js', import.meta.url));
  /** A child that queues 1000 lines on each stream in one turn, then ends the way `how` says. */
  function child(how: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const script = `
      import { flushOnExit, stdoutLines, stderrLines } from ${JSON.stringify(LB)};
      flushOnExit();
      setTimeout(() => {
        for (let i = 0; i < 1000; i++) { stdoutLines.line('out ' + i); stderrLines.line('err ' + i); }
        ${how}
      }, 5);`;
    return new Promise((resolve) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  const all = (prefix: string) => Array.from({ length: 1000 }, (_, i) => `${prefix} ${i}\n`).join('');

  it.each([
    ['process.exit', 'process.exit(3);', 3],
    ['an uncaught exception', "throw new Error('boom');", 1],
    ['an unhandled rejection', "Promise.reject(new Error('boom'));", 1],
    ['the loop running dry', '', 0],
  ])('nothing is lost on %s', async (_what, how, code) => {
    const r = await child(how as string);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe(all('out'));
    expect(r.stderr.startsWith(all('err'))).toBe(true); // queued log lines come before Node's error report
    if (code === 1) expect(r.stderr).toMatch(/boom/);
  });
});
