// Hostile input against real peer processes: a websocket client trying to write (junk entries, a
// valid-looking task, a delete of a finished task, a generation marker) and sending garbage bytes; a libp2p peer without the mesh secret; a truncated update
// log on restart. Each gets a clear log line, and the mesh keeps working with nothing lost.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import WebSocket from 'ws';
import { spawnPeer } from '../dist/cli/up-command.js';
import { makeUntil } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'am-hostile-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--json'], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

async function start(name: string, extra: string[] = []) {
  const err: string[] = [];
  const { child, ready } = await spawnPeer(['--name', name, '--data-dir', join(base, name), ...extra], { onStderr: (l) => err.push(l) });
  children.push(child);
  return { child, ready, err };
}

const until = makeUntil({ timeoutMs: 20_000, everyMs: 100 });

function stop(c: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null) return resolve(c.exitCode);
    c.once('exit', (code) => resolve(code));
    c.kill('SIGTERM');
  });
}

function rawSend(url: string, frames: Uint8Array[]): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      for (const f of frames) ws.send(f);
      setTimeout(() => ws.close(), 200);
    });
    ws.on('close', () => resolve());
    ws.on('error', () => resolve());
  });
}

describe('hostile input against real peers', () => {
  it('a websocket client is read-only: its writes, deletes and generation markers are refused (4001), logged, and reach no replica', async () => {
    const a = await start('HA');
    const b = await start('HB', ['--bootstrap', a.ready.multiaddrs[0]!]);
    await until('mesh', async () => (await cli('status', '--peer', b.ready.wsUrl)).peers.length === 2);
    const first = await cli('submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--payload', '{"ok":0}', '--wait');
    expect(first.tasks[0].state).toBe('done');
    const gen = (await cli('status', '--peer', b.ready.wsUrl)).generation;
    // 1. A stock Yjs client reads the board live, then tries to write: junk, a task, a delete of the
    // finished task, a generation marker. Every attempt closes its connection with 4001.
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(a.ready.wsUrl.replace(/\/agentmesh$/, ''), 'agentmesh', doc, { WebSocketPolyfill: WebSocket as never, disableBc: true });
    const codes: number[] = [];
    provider.on('connection-close', (e) => void (e && codes.push(e.code)));
    await until('client synced and reading', () => provider.synced && doc.getMap('segs').size + doc.getMap('tasks').size > 0);
    doc.transact(() => {
      doc.getMap('tasks').set('evil-1', { id: 'evil-1', type: 42 });
      doc.getMap('facts').set('nonsense', { boom: true });
      doc.getMap('peers').set('fake', { id: 'fake', capacity: -5 });
      doc.getMap('tasks').set('good-1', { id: 'good-1', type: 'echo', payload: { ok: 1 }, createdAt: Date.now(), createdBy: 'manual' });
    });
    await until('write refused', () => codes.includes(4001));
    provider.destroy();
    doc.destroy();
    const del = new Y.Doc();
    const p2 = new WebsocketProvider(a.ready.wsUrl.replace(/\/agentmesh$/, ''), 'agentmesh', del, { WebSocketPolyfill: WebSocket as never, disableBc: true });
    const codes2: number[] = [];
    p2.on('connection-close', (e) => void (e && codes2.push(e.code)));
    await until('second client synced', () => p2.synced && del.getMap('segs').size + del.getMap('tasks').size > 0);
    del.transact(() => {
      for (const k of [...del.getMap('segs').keys()]) del.getMap('segs').delete(k);
      for (const k of [...del.getMap('tasks').keys()]) del.getMap('tasks').delete(k);
      del.getMap('meta').set(`gen:999.${Date.now()}.0.evil`, true);
    });
    await until('delete refused', () => codes2.includes(4001));
    p2.destroy();
    del.destroy();
    // 2. Garbage bytes and a malformed update on raw sockets.
    await rawSend(a.ready.wsUrl, [new Uint8Array([0xde, 0xad, 0xbe, 0xef]), Uint8Array.from([0, 2, 8, 1, 2, 3, 4, 5, 6, 7, 8])]);
    // 3. The mesh keeps working through the HTTP API, and nothing of the client reached B.
    const second = await cli('submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--payload', '{"ok":1}', '--wait');
    expect(second.tasks[0].state).toBe('done');
    await until('B sees both tasks done', async () => (await cli('status', '--peer', b.ready.wsUrl)).tasks.done === 2);
    expect((await cli('get', first.ids[0], '--peer', b.ready.wsUrl)).state).toBe('done');
    const missing = await run(process.execPath, [CLI, 'get', 'good-1', '--peer', b.ready.wsUrl]).catch((e) => e);
    expect(String(missing.stderr)).toMatch(/no task good-1/);
    const logs = [...a.err, ...b.err].join('\n');
    expect(logs).toMatch(/ws message rejected.*read-only/);
    expect(logs).toMatch(/websocket|invalid update|undecodable|malformed/i);
    const s = await cli('status', '--peer', b.ready.wsUrl);
    expect(s.peers.map((p: { name: string }) => p.name).sort()).toEqual(['HA', 'HB']);
    expect(s.tasks).toMatchObject({ done: 2, pending: 0 });
    // The real peers sign and check every entry; nothing was refused between them.
    expect(s.trust).toMatchObject({ signed: true, badSignature: 0, wrongAuthor: 0, removedAuthor: 0, removed: [] });
    // 4. No generation marker from the client: after a restart B is still on its generation.
    expect(await stop(b.child)).toBe(0);
    const b2 = await start('HB', ['--bootstrap', a.ready.multiaddrs[0]!]);
    expect((await cli('status', '--peer', b2.ready.wsUrl)).generation).toEqual(gen);
    // 5. The CLI refuses an invalid task with a clear error and exit code 2, writing nothing.
    const bad = await run(process.execPath, [CLI, 'submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--max-attempts', '0']).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(String(bad.stderr)).toMatch(/--max-attempts must be at least 1/);
    const bad2 = await run(process.execPath, [CLI, 'submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--payload', '{not json']).catch((e) => e);
    expect(bad2.code).toBe(2);
    expect(String(bad2.stderr)).toMatch(/--payload is not valid JSON/);
    expect((await cli('status', '--peer', a.ready.wsUrl)).tasks.done).toBe(2);
    await Promise.all([stop(a.child), stop(b2.child)]);
  }, 90_000);

  it('a peer without the mesh secret cannot join; members keep syncing', async () => {
    const a = await start('SA', ['--secret', 'correct horse']);
    const b = await start('SB', ['--secret', 'correct horse', '--bootstrap', a.ready.multiaddrs[0]!]);
    const intruder = await start('SX', ['--secret', 'wrong', '--bootstrap', a.ready.multiaddrs[0]!]);
    await until('members see each other', async () => (await cli('status', '--peer', b.ready.wsUrl)).peers.length === 2);
    const r = await cli('submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--payload', '"members only"', '--wait');
    expect(r.tasks[0].state).toBe('done');
    await until('refusal logged', () => [...a.err, ...intruder.err].join('\n').match(/refused|secret/i));
    await new Promise((res) => setTimeout(res, 1000));
    const sx = await cli('status', '--peer', intruder.ready.wsUrl);
    expect(sx.peers.map((p: { name: string }) => p.name)).toEqual(['SX']);
    expect(sx.tasks.done).toBe(0);
    expect((await cli('status', '--peer', a.ready.wsUrl)).peers.map((p: { name: string }) => p.name).sort()).toEqual(['SA', 'SB']);
    await Promise.all([stop(a.child), stop(b.child), stop(intruder.child)]);
  }, 90_000);

  it('a truncated update log: the damaged tail is cut with a warning and the rest loads', async () => {
    const a = await start('TA');
    const first = await cli('submit', '--peer', a.ready.wsUrl, '--type', 'echo', '--payload', '1', '--count', '5', '--wait');
    expect(await stop(a.child)).toBe(0);
    const log = join(base, 'TA', 'store', 'log.bin');
    const size = statSync(log).size;
    truncateSync(log, size - 7);
    const again = await start('TA');
    expect(again.ready.peerId).toBe(a.ready.peerId);
    await until('warning', () => again.err.join('\n').match(/cut|truncat|damaged|corrupt/i));
    const s = await cli('status', '--peer', again.ready.wsUrl);
    // The five tasks were acknowledged long before the damaged tail: all still there.
    for (const id of first.ids) expect((await cli('get', id, '--peer', again.ready.wsUrl)).state).not.toBe('unknown');
    expect(s.tasks.done + s.tasks.pending + s.tasks.running + s.tasks.claimed).toBe(5);
    const more = await cli('submit', '--peer', again.ready.wsUrl, '--type', 'echo', '--payload', '2', '--wait');
    expect(more.tasks[0].state).toBe('done');
    await until('all done', async () => (await cli('status', '--peer', again.ready.wsUrl)).tasks.done === 6);
    await stop(again.child);
  }, 90_000);
});
