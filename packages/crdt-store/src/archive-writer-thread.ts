// The archive's writer thread (Node only; started by archive-writer.ts): inserts and commits the
// unit rows the peer's loop made (archive-unit-rows.ts), on a connection of its own to the same WAL
// database, at the lowest CPU priority (Linux gives each thread its own nice value), so the SQLite
// work takes a core only when the peers' event loops leave one idle. Replies to each request once
// it is committed.
import { parentPort, workerData } from 'node:worker_threads';
import { setPriority } from 'node:os';
import { insertUnit, openDb, sheetCrc, statements } from './archive-db.js';
import { makeUnitRows, type MadeUnit } from './archive-unit-rows.js';

/**
 * A unit row to commit (`unit`: its body, as `unitSeq`; archive-unit-rows.ts) with the sheets its
 * records refer to, or unit rows whose search rows to make (`make`: their seqs).
 */
export interface WriterRequest {
  seq: number;
  unit?: string;
  unitSeq?: number;
  sheets?: [string, Uint8Array][];
  make?: number[];
}

export interface WriterReply {
  seq: number;
  /** What making search rows did. */
  made?: MadeUnit[];
  /** Warnings on the way (lines lost). */
  warnings?: string[];
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
    if (m.make) {
      const warnings: string[] = [];
      const sheet = (key: string): Uint8Array | undefined => {
        const r = st.sheet.get(key);
        return r && sheetCrc(r.bytes) === r.crc ? r.bytes : undefined;
      };
      const made = makeUnitRows(db, st, m.make, sheet, (w) => warnings.push(w));
      parentPort!.postMessage({ seq: m.seq, made, ...(warnings.length > 0 ? { warnings } : {}) } satisfies WriterReply);
    } else {
      insertUnit(db, st, m.unitSeq!, m.unit ?? '', m.sheets ?? []);
      parentPort!.postMessage({ seq: m.seq } satisfies WriterReply);
    }
  } catch (e) {
    parentPort!.postMessage({ seq: m.seq, error: (e as Error).message } satisfies WriterReply);
  }
});
