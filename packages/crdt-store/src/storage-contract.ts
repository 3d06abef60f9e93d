// The contract of `Storage` (storage.ts) as executable checks, in the style of automerge-repo's
// runStorageAdapterTests, so every implementation (MemoryStorage, the file storage, any future
// one) is held to the same promises: empty load, flushed appends come back in order and byte for
// byte after a restart, compaction keeps the state and later appends (also one that waits for
// `ready`: storage-contract-waits.ts), stats, close, refusal of
// work after close, exclusive use of the durable state, and (when the harness can flip a byte of
// its durable log) that one bad byte costs at most the record it sits in. Checks are plain async functions that
// collect failures (no test framework needed); runStorageContract() registers them with any
// describe/it pair (vitest, node:test, mocha), so this module has no test-framework dependency.

import * as Y from 'yjs';
import type { Storage } from './storage.js';
import { SIZES, bytes, codeOf, expectEmpty, keptInOrder, loggedDoc, push, rebuildsDoc, sameBytes, statsSay, type CheckContext, type ContractFailure, type StorageCheck } from './storage-contract-helpers.js';
import { compactionWaitChecks } from './storage-contract-waits.js';

export type { CheckContext, ContractFailure, StorageCheck } from './storage-contract-helpers.js';

/** A fresh storage over new, empty durable state, and the means to open that same state again. */
export interface StorageHarness {
  storage: Storage;
  /** Opens the durable state of `storage` again (a restart). Called after, or to test, closing. */
  reopen(): Storage | Promise<Storage>;
  /** Removes the durable state (temporary directories); called once per check. */
  cleanup?(): void | Promise<void>;
  /**
   * Changes one byte of the durable log (every bit flipped) while no storage is open: the byte at
   * `pick(size of the log in bytes)`. Without it, the checks of damaged logs pass without running.
   */
  damageLog?(pick: (size: number) => number): void | Promise<void>;
}

export type StorageSetup = () => StorageHarness | Promise<StorageHarness>;

function damagedLogCheck(where: string, pick: (size: number) => number): StorageCheck {
  return {
    name: `a changed byte ${where} costs at most the update it sits in; the others come back, and the repair lasts`,
    async run(c) {
      if (!c.damageLog) return;
      const updates = Array.from({ length: 40 }, (_, i) => bytes(200 + (i % 7) * 37, 500 + i));
      for (const u of updates) c.storage.append(u);
      await c.storage.close();
      await c.damageLog(pick);
      const s = await c.reopen();
      const state = await s.load();
      c.ok(keptInOrder(state.updates, updates, 1), `after the damage: ${state.updates.length} of ${updates.length} updates came back, or not in order, or altered`);
      c.ok(state.warnings.length > 0, 'the damage was not reported in warnings');
      const later = bytes(33, 999);
      s.append(later);
      await s.close();
      const again = await (await c.reopen()).load();
      c.sameUpdates(again.updates, [...state.updates, later], 'after a second restart');
      c.ok(again.warnings.length === 0, `the repair did not last: warnings after a second restart: ${JSON.stringify(again.warnings)}`);
    },
  };
}

/** Every check of the contract, in the order they run. */
export const storageContractChecks: readonly StorageCheck[] = [
  {
    name: 'a fresh storage loads empty, and a flush with nothing appended resolves',
    async run(c) {
      expectEmpty(c, await c.storage.load(), 'first load');
      await c.storage.flush();
      statsSay(c, c.storage.stats(), { logRecords: 0, pendingRecords: 0, snapshotBytes: 0 }, 'fresh');
      await c.storage.close();
      expectEmpty(c, await (await c.reopen()).load(), 'after a restart');
    },
  },
  {
    name: 'flushed appends come back after a restart, in order and byte for byte',
    async run(c) {
      const updates = SIZES.map((n, i) => bytes(n, i + 1));
      for (const u of updates) c.storage.append(u);
      await c.storage.flush();
      await c.storage.close();
      const state = await (await c.reopen()).load();
      c.sameUpdates(state.updates, updates, 'updates after a restart');
      c.ok(state.snapshot === null, 'no snapshot was ever written, yet load() returned one');
      c.ok(state.warnings.length === 0, `unexpected warnings: ${JSON.stringify(state.warnings)}`);
    },
  },
  {
    name: 'the first load() returns what recovery found; a later load() reads what is durable',
    async run(c) {
      const s = c.storage;
      s.append(bytes(10, 1)); // before load(): allowed, and not part of what recovery found
      await s.flush();
      expectEmpty(c, await s.load(), 'first load after an append');
      s.append(bytes(10, 2));
      await s.flush();
      c.sameUpdates((await s.load()).updates, [bytes(10, 1), bytes(10, 2)], 'second load');
      await s.close();
      c.sameUpdates((await (await c.reopen()).load()).updates, [bytes(10, 1), bytes(10, 2)], 'after a restart');
    },
  },
  {
    name: 'concurrent flushes all resolve and cover every append made before them',
    async run(c) {
      const s = c.storage;
      const updates = Array.from({ length: 20 }, (_, i) => bytes(5 + i, 100 + i));
      const flushes: Promise<void>[] = [];
      for (const u of updates) {
        s.append(u);
        flushes.push(s.flush());
      }
      await Promise.all(flushes);
      statsSay(c, s.stats(), { pendingRecords: 0, logRecords: 20 }, 'after the flushes');
      await s.close();
      c.sameUpdates((await (await c.reopen()).load()).updates, updates, 'after a restart');
    },
  },
  {
    name: 'stats() counts pending and durable records and bytes',
    async run(c) {
      const s = c.storage;
      await s.load();
      const base = s.stats();
      statsSay(c, base, { logRecords: 0, pendingRecords: 0, snapshotBytes: 0 }, 'fresh');
      const updates = [bytes(30, 1), bytes(300, 2), bytes(3, 3)];
      for (const u of updates) s.append(u);
      statsSay(c, s.stats(), { logRecords: 0, pendingRecords: 3, logBytes: base.logBytes, snapshotBytes: 0 }, 'after 3 appends');
      await s.flush();
      const flushed = s.stats();
      statsSay(c, flushed, { logRecords: 3, pendingRecords: 0, snapshotBytes: 0 }, 'after the flush');
      c.ok(flushed.logBytes >= base.logBytes + 333, `after the flush: logBytes ${flushed.logBytes} < ${base.logBytes} + 333 bytes appended`);
      await s.close();
      const again = await c.reopen();
      await again.load();
      statsSay(c, again.stats(), { logRecords: 3, pendingRecords: 0, logBytes: flushed.logBytes, snapshotBytes: 0 }, 'after a restart');
      const snapshot = bytes(500, 9);
      await again.compact(snapshot);
      const compacted = again.stats();
      statsSay(c, compacted, { logRecords: 0, pendingRecords: 0, logBytes: base.logBytes }, 'after compact');
      c.ok(compacted.snapshotBytes >= snapshot.length, `after compact: snapshotBytes ${compacted.snapshotBytes} < ${snapshot.length}`);
      await again.close();
      const third = await c.reopen();
      await third.load();
      statsSay(c, third.stats(), { logRecords: 0, pendingRecords: 0, logBytes: base.logBytes, snapshotBytes: compacted.snapshotBytes }, 'after compact and a restart');
    },
  },
  {
    name: 'compact() replaces the log by the snapshot; appends after it stay in the log',
    async run(c) {
      const { doc, logged } = loggedDoc(() => c.storage);
      push(doc, 0, 10);
      await c.storage.flush();
      push(doc, 10, 15); // pending: compact() must flush them first (the snapshot covers them)
      const snapshot = Y.encodeStateAsUpdate(doc);
      await c.storage.compact(snapshot);
      statsSay(c, c.storage.stats(), { logRecords: 0, pendingRecords: 0 }, 'after compact');
      const before = logged.length;
      push(doc, 15, 20);
      const after = logged.slice(before);
      await c.storage.flush();
      await c.storage.close();
      const state = await (await c.reopen()).load();
      c.ok(sameBytes(state.snapshot, snapshot), 'after a restart: the snapshot is not the bytes passed to compact()');
      c.sameUpdates(state.updates, after, 'updates after a restart (only those appended after compact)');
      rebuildsDoc(c, state, doc);
    },
  },
  {
    name: 'appends made while compact() runs are not lost',
    async run(c) {
      const { doc, logged } = loggedDoc(() => c.storage);
      push(doc, 0, 10);
      const compacting = c.storage.compact(Y.encodeStateAsUpdate(doc));
      const before = logged.length;
      push(doc, 10, 15);
      const after = logged.slice(before);
      await Promise.all([compacting, c.storage.flush()]);
      await c.storage.close();
      const state = await (await c.reopen()).load();
      c.sameUpdates(state.updates, after, 'updates after a restart (those appended after the compact() call)');
      rebuildsDoc(c, state, doc);
    },
  },
  ...compactionWaitChecks,
  {
    name: 'close() makes pending appends durable and is idempotent',
    async run(c) {
      const updates = [bytes(40, 1), bytes(41, 2)];
      for (const u of updates) c.storage.append(u);
      await c.storage.close();
      await c.storage.close();
      c.sameUpdates((await (await c.reopen()).load()).updates, updates, 'after close and a restart');
    },
  },
  {
    name: 'after close(), append throws STORAGE_CLOSED and load/flush/compact reject with it',
    async run(c) {
      const s = c.storage;
      await s.close();
      c.throwsCode(() => s.append(bytes(4, 1)), 'STORAGE_CLOSED', 'append after close');
      await c.rejectsCode(() => s.flush(), 'STORAGE_CLOSED', 'flush after close');
      await c.rejectsCode(() => s.compact(bytes(4, 2)), 'STORAGE_CLOSED', 'compact after close');
      await c.rejectsCode(() => s.load(), 'STORAGE_CLOSED', 'load after close');
      expectEmpty(c, await (await c.reopen()).load(), 'after a restart (nothing was written after close)');
    },
  },
  {
    name: 'the durable state has one user at a time: a second open fails with DATA_DIR_LOCKED until close()',
    async run(c) {
      c.storage.append(bytes(8, 1));
      let second: Storage | undefined;
      try {
        second = await c.reopen();
      } catch (e) {
        c.ok(codeOf(e) === 'DATA_DIR_LOCKED', `a second open failed with ${String(codeOf(e) ?? e)}, expected DATA_DIR_LOCKED`);
      }
      c.ok(second === undefined, 'a second open succeeded while the first storage was open');
      await c.storage.close();
      c.sameUpdates((await (await c.reopen()).load()).updates, [bytes(8, 1)], 'after close, a new open');
    },
  },
  damagedLogCheck('in the middle of the log', (size) => Math.floor(size * 0.6)),
  damagedLogCheck('at the start of the log', () => 0),
  damagedLogCheck('in the last byte of the log', (size) => size - 1),
];

/** Runs one check on a fresh harness; returns its failures (an exception is one failure). */
export async function runStorageCheck(check: StorageCheck, setup: StorageSetup): Promise<string[]> {
  const failures: string[] = [];
  const fail = (m: string): void => {
    failures.push(m);
  };
  const h = await setup();
  const opened: Storage[] = [h.storage];
  const damageLog = h.damageLog?.bind(h);
  const c: CheckContext = {
    storage: h.storage,
    ...(damageLog ? { damageLog: async (pick: (size: number) => number) => void (await damageLog(pick)) } : {}),
    async reopen() {
      const s = await h.reopen();
      opened.push(s);
      return s;
    },
    ok(cond, message) {
      if (!cond) fail(message);
      return cond;
    },
    sameUpdates(actual, expected, what) {
      if (actual.length !== expected.length) return fail(`${what}: ${actual.length} updates, expected ${expected.length}`);
      const bad = expected.findIndex((u, i) => !sameBytes(actual[i]!, u));
      if (bad >= 0) fail(`${what}: update #${bad} differs (${actual[bad]!.length} bytes, expected ${expected[bad]!.length})`);
    },
    throwsCode(fn, code, what) {
      try {
        fn();
      } catch (e) {
        if (codeOf(e) !== code) fail(`${what}: threw ${String(codeOf(e) ?? e)}, expected ${code}`);
        return;
      }
      fail(`${what}: did not throw, expected ${code}`);
    },
    async rejectsCode(fn, code, what) {
      let p: Promise<unknown>;
      try {
        p = fn();
      } catch (e) {
        return fail(`${what}: threw synchronously (${String(codeOf(e) ?? e)}) instead of returning a rejected promise`);
      }
      try {
        await p;
      } catch (e) {
        if (codeOf(e) !== code) fail(`${what}: rejected with ${String(codeOf(e) ?? e)}, expected ${code}`);
        return;
      }
      fail(`${what}: resolved, expected a rejection with ${code}`);
    },
  };
  try {
    await check.run(c);
  } catch (e) {
    fail(`threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    for (const s of opened.reverse()) await s.close().catch((e: unknown) => fail(`close() rejected: ${String(e)}`));
    await h.cleanup?.();
  }
  return failures;
}

/** Runs every check (or those not in `skip`), one fresh harness each; resolves to all failures. */
export async function checkStorageContract(setup: StorageSetup, opts: { skip?: readonly string[] } = {}): Promise<ContractFailure[]> {
  const out: ContractFailure[] = [];
  for (const check of storageContractChecks) {
    if (opts.skip?.includes(check.name)) continue;
    for (const message of await runStorageCheck(check, setup)) out.push({ check: check.name, message });
  }
  return out;
}

/** The describe/it of a test framework (vitest, node:test, mocha and jest all fit). */
export interface TestRegistrar {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
}

/**
 * Registers the contract as one test per check under `describe(name)`:
 *   import { describe, it } from 'vitest';
 *   runStorageContract('MyStorage', async () => ({ storage, reopen }), { describe, it });
 */
export function runStorageContract(name: string, setup: StorageSetup, t: TestRegistrar, opts: { skip?: readonly string[] } = {}): void {
  t.describe(`Storage contract: ${name}`, () => {
    for (const check of storageContractChecks) {
      if (opts.skip?.includes(check.name)) continue;
      t.it(check.name, async () => {
        const failures = await runStorageCheck(check, setup);
        if (failures.length > 0) throw new Error(`${name} breaks the Storage contract:\n  ${failures.join('\n  ')}`);
      });
    }
  });
}
