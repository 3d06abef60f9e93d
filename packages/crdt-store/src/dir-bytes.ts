// The bytes a directory tree takes on disk (Node only): what the benchmark prints for a peer's
// data directory.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of every file in a directory tree (the on-disk size the benchmark prints). */
export function dirBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) n += dirBytes(p);
    else if (name.isFile()) n += statSync(p).size;
  }
  return n;
}
