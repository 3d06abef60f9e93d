// The archive's writer thread (Node only; started by archive-writer.ts): inserts and commits the
// rows the peer's loop made, on a connection of its own to the same WAL database, at the lowest
// CPU priority (Linux gives each thread its own nice value), so the SQLite work takes a core only
// when the peers' event loops leave one idle. Replies to each request once it is committed.
import { parentPort, workerData } from 'node:worker_threads';
import { setPriority } from 'node:os';
import { insertRows, openDb, statements, type Row } from './archive-db.js';

export interface WriterRequest {
  seq: number;
  rows: Row[];
  sheets: [string, Uint8Array][];
}

export interface WriterReply {
  seq: number;
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
    insertRows(db, st, m.rows, m.sheets);
    parentPort!.postMessage({ seq: m.seq } satisfies WriterReply);
  } catch (e) {
    parentPort!.postMessage({ seq: m.seq, error: (e as Error).message } satisfies WriterReply);
  }
});
