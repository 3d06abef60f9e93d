// The bytes a directory tree takes on disk (Node only): what the benchmark prints for a peer's
// data directory, and what the file archive reports as its size (its database files only). Files
// that vanish while they are counted (a log compacted away, a WAL checkpointed) count as nothing.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of every file in a directory tree; with `only`, of the files right in `dir` whose names it accepts. */
export function dirBytes(dir: string, only?: (name: string) => boolean): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    try {
      if (only) n += e.isFile() && only(e.name) ? statSync(p).size : 0;
      else if (e.isDirectory()) n += dirBytes(p);
      else if (e.isFile()) n += statSync(p).size;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
