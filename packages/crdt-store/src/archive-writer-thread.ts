// The archive's writer thread (Node only; started by archive-writer.ts): inserts and commits the
// unit rows the peer's loop made (archive-unit-rows.ts), on a connection of its own to the same WAL
// database, at the lowest CPU priority (Linux gives each thread its own nice value), so the SQLite
// work takes a core only when the peers' event loops leave one idle. Replies to each request once
// it is committed, with the unit row's seq.
import { parentPort, workerData } from 'node:worker_threads';
import { setPriority } from 'node:os';
import { insertUnit, openDb, statements } from './archive-db.js';

/** A unit row to commit (`unit`: its body; archive-unit-rows.ts) with the sheets its records refer to. */
export interface WriterRequest {
  seq: number;
  unit: string;
  sheets: [string, Uint8Array][];
}

export interface WriterReply {
  seq: number;
  /** The committed unit row's seq. */
  unitSeq?: number;
  error?: string;
}

// Only Linux keeps a nice value per thread; elsewhere this would lower the whole peer.
if (process.platform === 'linux') {
  try {
    setPriority(19);
  } catch {
    /* not allowed here: the thread runs at the process's priority */
  }
}
const db = openDb((workerData as { path: string }).path);
const st = statements(db);
parentPort!.on('message', (m: WriterRequest | 'close') => {
  if (m === 'close') {
    db.close();
    process.exit(0);
  }
  try {
    parentPort!.postMessage({ seq: m.seq, unitSeq: insertUnit(db, st, m.unit, m.sheets) } satisfies WriterReply);
  } catch (e) {
    parentPort!.postMessage({ seq: m.seq, error: (e as Error).message } satisfies WriterReply);
  }
});
