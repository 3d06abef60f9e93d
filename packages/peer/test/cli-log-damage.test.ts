// One bad byte on a real peer's disk, end to end: a lone `agentmesh peer` acknowledges 200 tasks
// (one submit each, so each sits in its own log record), is killed, gets one byte of the middle of
// <data-dir>/store/log.bin flipped, and restarts with every task but the damaged record's, saying
// what it lost; then its log header is damaged and every remaining task still comes back.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as Y from 'yjs';
import { LOG_MAGIC, RECORD_HEADER_BYTES, decodeLog } from '@agentmesh/crdt-store';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'am-log-damage-'));
const dataDir = join(base, 'LD');
const logPath = join(dataDir, 'store', 'log.bin');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

async function start(): Promise<{ child: ChildProcess; ready: ReadyLine; stderr: string[] }> {
  const stderr: string[] = [];
  const { child, ready } = await spawnPeer(['--name', 'LD', '--data-dir', dataDir], { onStderr: (l) => stderr.push(l) });
  children.push(child);
  return { child, ready, stderr };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

const http = (ready: ReadyLine): string => ready.wsUrl.replace(/^ws/, 'http').replace(/\/[^/]*$/, '');

/** States of `ids` as the peer's HTTP API reports them ('unknown' when it has no such task). */
async function states(ready: ReadyLine, ids: string[]): Promise<string[]> {
  const res = await fetch(`${http(ready)}/api/tasks?ids=${ids.map(encodeURIComponent).join(',')}`);
  const body = (await res.json()) as { tasks: { id: string; state: string }[] };
  return body.tasks.map((t) => t.state);
}

/** Offsets of the log records that hold a task batch (a key of the 'segs' root map). */
function batchRecords(log: Uint8Array): number[] {
  const out: number[] = [];
  let at = LOG_MAGIC.length;
  for (const r of decodeLog(log).records) {
    if (Y.decodeUpdate(r).structs.some((s) => s instanceof Y.Item && s.parent === 'segs')) out.push(at);
    at += RECORD_HEADER_BYTES + r.length;
  }
  return out;
}

describe('a lone peer process with a damaged log', () => {
  it('restarts with every acknowledged task but the damaged record\'s, and a damaged header keeps them all', async () => {
    const first = await start();
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`${http(first.ready)}/api/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'nobody-runs-this', payload: { i } }),
      });
      expect(res.status).toBe(200);
      ids.push(...((await res.json()) as { ids: string[] }).ids);
    }
    expect(ids).toHaveLength(200);
    await kill(first.child); // every submit was acknowledged after its fsync

    const log = new Uint8Array(readFileSync(logPath));
    const batches = batchRecords(log);
    expect(batches.length).toBeGreaterThanOrEqual(200); // the tasks are in the log, not in a snapshot
    const victim = batches[Math.floor(batches.length / 2)]!;
    log[victim + RECORD_HEADER_BYTES + 5]! ^= 0x01;
    writeFileSync(logPath, log);

    const second = await start();
    const after = await states(second.ready, ids);
    const missing = ids.filter((_, i) => after[i] === 'unknown');
    expect(missing).toHaveLength(1);
    expect(after.filter((s) => s === 'pending')).toHaveLength(199);
    const status = JSON.parse((await run(process.execPath, [CLI, 'status', '--peer', second.ready.wsUrl, '--json'])).stdout.trim().split('\n').at(-1)!) as { tasks: Record<string, number> };
    expect(Object.values(status.tasks).reduce((a, b) => a + b, 0)).toBe(199);
    const said = second.stderr.join('\n');
    expect(said).toMatch(new RegExp(`log\\.bin: lost 1 record at bytes ${victim}\\.\\.`));
    expect(said).toMatch(/kept the damaged log as .*log\.bin\.corrupt-1/);
    expect(said).toMatch(/gave up updates lost with damaged log records/);
    const couldNot = second.stderr.find((l) => l.includes('could not read a damaged log record'));
    expect(couldNot).toContain(missing[0]!.replace(/\.\d+$/, '')); // names the task (or its batch)
    expect(existsSync(`${logPath}.corrupt-1`)).toBe(true);
    await kill(second.child);

    const damaged = readFileSync(logPath);
    damaged[2]! ^= 0x20; // the 8-byte header
    writeFileSync(logPath, damaged);
    const third = await start();
    const again = await states(third.ready, ids);
    expect(ids.filter((_, i) => again[i] === 'unknown')).toEqual(missing);
    expect(third.stderr.join('\n')).toMatch(/bad magic header; read the \d+ records after it anyway/);
    await kill(third.child);
  }, 120_000);
});
