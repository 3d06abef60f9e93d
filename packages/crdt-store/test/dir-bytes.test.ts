// dirBytes (dir-bytes.ts): the bytes of a directory tree, or of the files right in it that a
// filter accepts (what the file archive reports as its size).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dirBytes } from '../src/node.js';

describe('dirBytes', () => {
  it('counts a whole tree, or only the top-level files a filter accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'am-dirbytes-'));
    writeFileSync(join(dir, 'archive.db'), Buffer.alloc(100));
    writeFileSync(join(dir, 'archive.db-wal'), Buffer.alloc(30));
    writeFileSync(join(dir, 'log.bin'), Buffer.alloc(7));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'archive.db'), Buffer.alloc(1000));
    expect(dirBytes(dir)).toBe(1137);
    expect(dirBytes(dir, (f) => f.startsWith('archive.db'))).toBe(130);
    expect(dirBytes(dir, () => false)).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
