// A lone peer whose log has one damaged record restarts with every task but the one that record
// held (in memory and on real files), says what it lost, and a peer that knows others waits for
// them to send what was lost instead of giving it up.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { LOG_MAGIC, MemoryDisk, MemoryStorage, RECORD_HEADER_BYTES, decodeLog, type Storage } from '@agentmesh/crdt-store';
import { openFileStorage } from '@agentmesh/crdt-store/node';
import { MemoryHub, Peer, systemClock, type Logger } from '../src/index.js';
import { until } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function makePeer(id: string, hub: MemoryHub, storage: Storage, seed: number, log?: Logger) {
  return new Peer({ id, name: id.toUpperCase(), capacity: 1000, agents: {}, transport: hub.join(id), storage, clock: systemClock, seed, logger: log });
}

/** Offsets of the records of a format-2 log and whether each holds a task batch (a key of 'segs'). */
function batchRecords(log: Uint8Array): number[] {
  const out: number[] = [];
  let at = LOG_MAGIC.length;
  for (const r of decodeLog(log).records) {
    const holdsBatch = Y.decodeUpdate(r).structs.some((s) => s instanceof Y.Item && s.parent === 'segs');
    if (holdsBatch) out.push(at);
    at += RECORD_HEADER_BYTES + r.length;
  }
  return out;
}

/** Submits `n` tasks one by one to a fresh lone peer and stops it; returns their ids. */
async function fill(storage: Storage, n: number): Promise<string[]> {
  const p = makePeer('a', new MemoryHub(), storage, 1);
  await p.start();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await p.submit({ type: 'nobody-runs-this', payload: i }))[0]!.id);
  await p.stop();
  return ids;
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: { log: (level, msg, fields) => void (level === 'warn' && lines.push(`${msg} ${JSON.stringify(fields ?? {})}`)) } };
}

describe('a lone peer with one damaged log record', () => {
  for (const kind of ['memory', 'file'] as const) {
    it(`restarts with every task but the damaged record's (${kind})`, async () => {
      const disk = new MemoryDisk();
      const dir = mkdtempSync(join(tmpdir(), 'am-damage-'));
      dirs.push(dir);
      const open = async (): Promise<Storage> => (kind === 'memory' ? new MemoryStorage(disk) : openFileStorage(dir, { logger: capture().log }));
      const ids = await fill(await open(), 200);
      const path = join(dir, 'log.bin');
      const bytes = kind === 'memory' ? disk.logBytes() : new Uint8Array(readFileSync(path));
      const batches = batchRecords(bytes);
      expect(batches.length).toBeGreaterThanOrEqual(200);
      const victim = batches[Math.floor(batches.length / 2)]!;
      const damaged = bytes.slice();
      damaged[victim + RECORD_HEADER_BYTES + 3]! ^= 0x10;
      if (kind === 'memory') disk.setLogBytes(damaged);
      else writeFileSync(path, damaged);

      const { log, lines } = capture();
      const again = makePeer('a', new MemoryHub(), await open(), 2, log);
      await again.start();
      const present = ids.filter((id) => again.view(id) !== undefined);
      expect(present.length).toBe(199);
      // It says which tasks it could not read (by id, or by the batch key the ids start with).
      const lost = ids.find((id) => !present.includes(id))!;
      expect(lines.join('\n')).toMatch(/could not read a damaged log record/);
      expect(lines.join('\n')).toContain(lost.replace(/\.\d+$/, ''));
      expect(again.loadWarnings.join('\n')).toMatch(new RegExp(`lost 1 record at bytes ${victim}\\.\\.`));
      expect(lines.join('\n')).toMatch(/gave up updates lost with damaged log records/);
      if (kind === 'file') expect(readdirSync(dir)).toContain('log.bin.corrupt-1');
      else expect(disk.damagedLogs).toHaveLength(1);
      await again.stop();

      // The repair is durable: the next start reads a clean log and the same tasks.
      const third = makePeer('a', new MemoryHub(), await open(), 3);
      await third.start();
      expect(third.loadWarnings).toEqual([]);
      expect(ids.filter((id) => third.view(id) !== undefined)).toEqual(present);
      await third.stop();
    });
  }

  it('a peer that knows others gets the lost record back from them instead of giving it up', async () => {
    const hub = new MemoryHub();
    const diskA = new MemoryDisk();
    const a = makePeer('a', hub, new MemoryStorage(diskA), 1);
    const b = makePeer('b', hub, new MemoryStorage(new MemoryDisk()), 2);
    await a.start();
    await b.start();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await a.submit({ type: 'nobody-runs-this', payload: i }))[0]!.id);
    await until(() => ids.every((id) => b.view(id) !== undefined), 5000, 'b has every task');
    await until(() => a.status().peers.some((p) => p.peerId === 'b'), 5000, 'a knows b');
    await a.stop();
    const bytes = diskA.logBytes();
    const batches = batchRecords(bytes);
    const damaged = bytes.slice();
    damaged[batches[Math.floor(batches.length / 2)]! + RECORD_HEADER_BYTES + 3]! ^= 0x10;
    diskA.setLogBytes(damaged);
    const { log, lines } = capture();
    const again = makePeer('a', hub, new MemoryStorage(diskA), 3, log);
    await again.start();
    await until(() => ids.every((id) => again.view(id) !== undefined), 5000, 'a has every task again');
    expect(lines.join('\n')).toMatch(/updates read from storage wait for lost ones .*"lone":false/);
    expect(lines.join('\n')).not.toMatch(/gave up/);
    await again.stop();
    await b.stop();
  });
});
