// The Storage contract's checks of a compaction that waits (`compact(snapshot, ready)`): the log
// is sealed at the call, appends meanwhile are flushed and stay after the snapshot, a refused
// wait or a close changes nothing, and one that waits never undoes a later one that finished first.

import * as Y from 'yjs';
import { loggedDoc, push, rebuildsDoc, sameBytes, statsSay, type StorageCheck } from './storage-contract-helpers.js';

/** A `ready` promise and what resolves it. */
function gate(): { ready: Promise<void>; release: () => void } {
  let release!: () => void;
  return { ready: new Promise<void>((r) => (release = r)), release: () => release() };
}

export const compactionWaitChecks: readonly StorageCheck[] = [
  {
    name: 'compact(snapshot, ready) seals the log at the call: appends while it waits are flushed meanwhile and stay after the snapshot',
    async run(c) {
      const { doc, logged } = loggedDoc(() => c.storage);
      push(doc, 0, 10);
      const snapshot = Y.encodeStateAsUpdate(doc);
      const { ready, release } = gate();
      let compacted = false;
      const compacting = c.storage.compact(snapshot, ready).then(() => (compacted = true));
      const before = logged.length;
      push(doc, 10, 15);
      await c.storage.flush(); // not held up by the wait
      c.ok(!compacted, 'compact() resolved before its ready promise did');
      statsSay(c, c.storage.stats(), { pendingRecords: 0, logRecords: 15 }, 'flushed while compact() waits');
      release();
      await compacting;
      statsSay(c, c.storage.stats(), { logRecords: 5, pendingRecords: 0 }, 'after compact');
      push(doc, 15, 18);
      const after = logged.slice(before);
      await c.storage.flush();
      await c.storage.close();
      const again = await c.reopen();
      const state = await again.load();
      c.ok(sameBytes(state.snapshot, snapshot), 'after a restart: the snapshot is not the bytes passed to compact()');
      c.sameUpdates(state.updates, after, 'updates after a restart (those appended after the compact() call)');
      rebuildsDoc(c, state, doc);
      statsSay(c, again.stats(), { logRecords: 8, pendingRecords: 0 }, 'after a restart');
    },
  },
  {
    name: 'overlapping compactions: one that waits never undoes a later one that finished first',
    async run(c) {
      const { doc, logged } = loggedDoc(() => c.storage);
      push(doc, 0, 5);
      const g1 = gate();
      const first = c.storage.compact(Y.encodeStateAsUpdate(doc), g1.ready);
      push(doc, 5, 8);
      const g2 = gate();
      const second = c.storage.compact(Y.encodeStateAsUpdate(doc), g2.ready);
      push(doc, 8, 10);
      const snapshot = Y.encodeStateAsUpdate(doc);
      await c.storage.compact(snapshot); // no wait: done first
      const before = logged.length;
      push(doc, 10, 12);
      g2.release();
      await second;
      push(doc, 12, 13);
      g1.release();
      await first;
      const after = logged.slice(before);
      await c.storage.flush();
      statsSay(c, c.storage.stats(), { logRecords: after.length, pendingRecords: 0 }, 'after the compactions');
      await c.storage.close();
      const state = await (await c.reopen()).load();
      c.ok(sameBytes(state.snapshot, snapshot), 'after a restart: the snapshot is not the newest one');
      c.sameUpdates(state.updates, after, 'updates after a restart (those appended after the newest compaction)');
      rebuildsDoc(c, state, doc);
    },
  },
  {
    name: 'compact() with a rejected ready, or a close while it waits, changes nothing and loses nothing',
    async run(c) {
      const { doc, logged } = loggedDoc(() => c.storage);
      push(doc, 0, 4);
      const notReady = Promise.reject(new Error('not ready'));
      notReady.catch(() => {}); // handled here too, for a storage that never looks at it
      const refused = await c.storage.compact(Y.encodeStateAsUpdate(doc), notReady).then(() => 'resolved', (e: Error) => e.message);
      c.ok(refused === 'not ready', `compact() with a rejected ready: ${refused}`);
      const { ready, release } = gate();
      const compacting = c.storage.compact(Y.encodeStateAsUpdate(doc), ready);
      push(doc, 4, 6);
      await c.storage.close();
      release();
      await compacting.catch(() => {});
      const state = await (await c.reopen()).load();
      c.ok(state.snapshot === null, 'a snapshot was written by a compaction that was refused or closed');
      c.sameUpdates(state.updates, logged, 'updates after a restart (every one)');
    },
  },
  {
    name: 'a compaction without ready that close() follows is done before close() resolves',
    async run(c) {
      const { doc } = loggedDoc(() => c.storage);
      push(doc, 0, 3);
      const snapshot = Y.encodeStateAsUpdate(doc);
      const compacting = c.storage.compact(snapshot);
      await c.storage.close();
      await compacting;
      const state = await (await c.reopen()).load();
      c.ok(sameBytes(state.snapshot, snapshot), 'after close and a restart: the snapshot is not the one compact() was given');
      c.sameUpdates(state.updates, [], 'updates after a restart (none: the snapshot covers them)');
    },
  },
];
