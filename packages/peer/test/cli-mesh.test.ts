// Real processes, real libp2p over TCP on loopback, real files: three `agentmesh peer` processes,
// one killed with SIGKILL mid-run and restarted on its data dir; a partition driven by the CLI's
// partition/heal; and a stock y-websocket client (not this project's code) reading the board.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as Y from 'yjs';
import { decodeTaskBatch } from '@agentmesh/crdt-store';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';
import type { ChildProcess } from 'node:child_process';
import { makeUntil } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'am-cli-'));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--json'], { timeout: 120_000, maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

async function start(name: string, extra: string[] = []): Promise<{ child: ChildProcess; ready: ReadyLine; lines: string[]; err: string[] }> {
  const lines: string[] = [];
  const err: string[] = [];
  const { child, ready } = await spawnPeer(['--name', name, '--data-dir', join(base, name), '--log-level', 'info', ...extra], {
    onLine: (l) => lines.push(l),
    onStderr: (l) => err.push(l),
  });
  children.push(child);
  return { child, ready, lines, err };
}

/** Waits up to 60 s, asking every 200 ms (a status call spawns a CLI process). */
const until = makeUntil({ timeoutMs: 60_000, everyMs: 200 });

function stop(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve(c.exitCode);
    c.once('exit', (code) => resolve(code));
    c.kill(signal);
  });
}

describe('three peer processes over libp2p', () => {
  it('finish 300 tasks through a SIGKILL and restart, with nothing lost and a stock client seeing every task', async () => {
    const t0 = Date.now();
    const a = await start('A', ['--capacity', '60', '--agents', 'sleep,echo']);
    const b = await start('B', ['--capacity', '60', '--agents', 'sleep,echo', '--bootstrap', a.ready.multiaddrs[0]!]);
    const c = await start('C', ['--capacity', '60', '--agents', 'sleep,echo', '--bootstrap', a.ready.multiaddrs[0]!]);
    const startMs = Date.now() - t0;
    await until('full mesh', async () => {
      const s = await cli('status', '--peer', c.ready.wsUrl);
      return s.peers.length === 3 && s.peers.every((p: { alive: boolean }) => p.alive);
    });
    const t1 = Date.now();
    const { ids } = await cli('submit', '--peer', a.ready.wsUrl, '--type', 'sleep', '--payload', '{"ms":150}', '--count', '300');
    expect(ids).toHaveLength(300);
    // Kill B while it is running tasks, then restart it on the same data dir.
    await until('B running tasks', async () => b.lines.some((l) => l.includes('"state":"running"')));
    await stop(b.child, 'SIGKILL');
    const b2 = await start('B', ['--capacity', '60', '--agents', 'sleep,echo', '--bootstrap', a.ready.multiaddrs[0]!]);
    expect(b2.ready.peerId).toBe(b.ready.peerId);
    for (const p of [a, b2, c]) {
      await until(`300 done on ${p.ready.name}`, async () => (await cli('status', '--peer', p.ready.wsUrl)).tasks.done === 300, 90_000);
    }
    const finishMs = Date.now() - t1;
    const statuses = await Promise.all([a, b2, c].map((p) => cli('status', '--peer', p.ready.wsUrl)));
    for (const s of statuses) {
      expect(s.tasks).toEqual({ pending: 0, claimed: 0, running: 0, done: 300, dead: 0, cancelled: 0 });
      expect(s.duplicateRuns).toBe(statuses[0].duplicateRuns);
    }
    expect(statuses[0].duplicateRuns).toBeLessThanOrEqual(5); // "a handful": a restarted peer waits to catch up before it bids
    // /api/status carries the transport's wire counters next to the sync engine's.
    const raw = (await (await fetch(a.ready.wsUrl.replace(/^ws/, 'http').replace(/\/agentmesh$/, '/api/status'))).json()) as {
      sync: { sentBytes: number };
      wire: { fanout: string; sentBytes: number; receivedBytes: number; sync: { sentMessages: number } };
    };
    expect(raw.wire.fanout).toBe('direct');
    expect(raw.wire.sentBytes).toBeGreaterThan(raw.wire.sync.sentMessages);
    expect(raw.wire.receivedBytes).toBeGreaterThan(0);
    expect(raw.sync.sentBytes).toBeGreaterThan(0);

    // A stock y-websocket client on C finds every task id, following the documented layout: single
    // entries in `tasks`, and task batches in `segs` (binary; decoded with the reference decoder).
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(c.ready.wsUrl.replace(/\/agentmesh$/, ''), 'agentmesh', doc, { WebSocketPolyfill: WebSocket as never });
    try {
      const held = () => {
        const found = new Set<string>(doc.getMap('tasks').keys());
        for (const [key, bytes] of doc.getMap('segs').entries()) {
          const batch = decodeTaskBatch(key, bytes);
          if (batch.ok) for (const t of batch.value.tasks) found.add(t.spec.id);
        }
        return found;
      };
      await until('stock client sync', async () => {
        const found = held();
        return ids.every((id: string) => found.has(id));
      }, 20_000);
    } finally {
      provider.destroy();
      doc.destroy();
    }
    console.log(`3 peers ready in ${startMs} ms; 300 tasks through a SIGKILL done in ${finishMs} ms; duplicate runs ${statuses[0].duplicateRuns}`);
    await Promise.all([a, b2, c].map((p) => stop(p.child)));
    expect(a.child.exitCode).toBe(0);
  }, 180_000);

  it('keep working on both sides of a partition driven by partition/heal, and agree after heal', async () => {
    const a = await start('PA', ['--capacity', '100']);
    const b = await start('PB', ['--capacity', '100', '--bootstrap', a.ready.multiaddrs[0]!]);
    const c = await start('PC', ['--capacity', '100', '--bootstrap', a.ready.multiaddrs[0]!]);
    await until('full mesh', async () => (await cli('status', '--peer', c.ready.wsUrl)).peers.filter((p: { alive: boolean }) => p.alive).length === 3);
    // Cut C off from A and B (blocks are enforced on both ends of each connection).
    const blocked = await cli('partition', '--peer', c.ready.wsUrl, '--block', `${a.ready.peerId},${b.ready.peerId}`);
    expect(blocked.blocked.sort()).toEqual([a.ready.peerId, b.ready.peerId].sort());
    await until('C sees A and B gone', async () => (await cli('status', '--peer', c.ready.wsUrl)).peers.filter((p: { alive: boolean }) => p.alive).length === 1, 20_000);
    const left = await cli('submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--payload', '{"side":"AB"}', '--count', '20', '--wait');
    const right = await cli('submit', '--peer', c.ready.wsUrl, '--type', 'echo', '--payload', '{"side":"C"}', '--count', '20', '--wait');
    expect(left.tasks.every((t: { state: string }) => t.state === 'done')).toBe(true);
    expect(right.tasks.every((t: { state: string; peer: string }) => t.state === 'done' && t.peer === 'PC')).toBe(true);
    // While split, A does not know C's tasks.
    expect((await cli('status', '--peer', a.ready.wsUrl)).tasks.done).toBe(20);
    await cli('heal', '--peer', c.ready.wsUrl);
    const views = await until('agreement after heal', async () => {
      const s = await Promise.all([a, b, c].map((p) => cli('status', '--peer', p.ready.wsUrl)));
      return s.every((x) => x.tasks.done === 40 && JSON.stringify(x.tasks) === JSON.stringify(s[0].tasks)) && s;
    }, 30_000);
    expect(views[0].tasks.done).toBe(40);
    await Promise.all([a, b, c].map((p) => stop(p.child)));
  }, 120_000);
});
