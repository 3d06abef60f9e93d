// scripts/check-structure.mjs keeps issue 10's "done when" true: the repository passes it, and on
// planted fixture trees each kind of violation (a 451-line file, an upward dependency, a cycle, an
// unknown package, a relative import across packages, an undeclared @agentmesh import) is
// reported on its own line with exit code 1, while the clean fixture passes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../check-structure.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

function check(root?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...(root ? [root] : [])], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const roots: string[] = [];
afterEach(() => {
  while (roots.length) rmSync(roots.pop()!, { recursive: true, force: true });
});

type Tree = Record<string, string>;
const lines = (n: number): string => '// line\n'.repeat(n);
const pkg = (name: string, deps: string[] = [], devDeps: string[] = []): string =>
  JSON.stringify({
    name,
    dependencies: Object.fromEntries(deps.map((d) => [d, 'workspace:*'])),
    devDependencies: Object.fromEntries(devDeps.map((d) => [d, 'workspace:*'])),
  });

/** A small clean workspace in the project's layering. */
function cleanTree(): Tree {
  return {
    'pnpm-workspace.yaml': 'packages:\n  - packages/*\n  - demo\n',
    'packages/scheduler/package.json': pkg('@agentmesh/scheduler'),
    'packages/scheduler/src/index.ts': lines(450), // exactly at the limit
    'packages/crdt-store/package.json': pkg('@agentmesh/crdt-store', ['@agentmesh/scheduler']),
    'packages/crdt-store/src/index.ts': "import { MeshError } from '@agentmesh/scheduler';\nexport { MeshError };\n",
    'packages/peer/package.json': pkg('@agentmesh/peer', ['@agentmesh/scheduler', '@agentmesh/crdt-store']),
    'packages/peer/src/index.ts': "export * from './peer.js';\nimport type { Storage } from '@agentmesh/crdt-store/node';\n",
    'packages/peer/src/peer.ts': "import {\n  MeshError,\n} from '@agentmesh/scheduler';\nexport { MeshError };\n",
    'packages/peer/test/peer.test.ts': "import { MeshError } from '../src/peer.js';\nimport '@agentmesh/peer/testing';\n",
    'demo/package.json': pkg('@agentmesh/demo', ['@agentmesh/peer']),
    'demo/src/start.ts': "const { Peer } = await import('@agentmesh/peer');\n",
  };
}

function plant(tree: Tree): string {
  const root = mkdtempSync(join(tmpdir(), 'check-structure-'));
  roots.push(root);
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('scripts/check-structure.mjs', () => {
  it('passes on this repository', () => {
    const r = check(REPO);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^check-structure: ok/);
  });

  it('passes on the clean fixture (so each failure below is the planted violation)', () => {
    const r = check(plant(cleanTree()));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('fails on a 451-line file, in src or test', () => {
    const r = check(plant({ ...cleanTree(), 'packages/peer/test/big.test.ts': lines(451), 'packages/peer/src/big.ts': lines(450) + 'export {};' }));
    expect(r.code).toBe(1);
    expect(r.err).toContain('check-structure: size: packages/peer/test/big.test.ts has 451 lines (at most 450');
    expect(r.err).toContain('check-structure: size: packages/peer/src/big.ts has 451 lines');
    expect(r.err).toContain('2 violation(s)');
  });

  it('fails on an upward dependency and names the cycle it closes', () => {
    const r = check(plant({ ...cleanTree(), 'packages/scheduler/package.json': pkg('@agentmesh/scheduler', [], ['@agentmesh/crdt-store']) }));
    expect(r.code).toBe(1);
    expect(r.err).toContain('layers: @agentmesh/scheduler depends on @agentmesh/crdt-store, which is not below it');
    expect(r.err).toContain('layers: dependency cycle @agentmesh/crdt-store -> @agentmesh/scheduler -> @agentmesh/crdt-store');
    expect(r.err).toContain('2 violation(s)');
  });

  it('fails on a workspace package missing from the layering', () => {
    const r = check(plant({ ...cleanTree(), 'packages/extra/package.json': pkg('@agentmesh/extra', ['@agentmesh/scheduler']) }));
    expect(r.code).toBe(1);
    expect(r.err).toContain('layers: packages/extra (@agentmesh/extra) is not in the layering');
  });

  it('fails on a relative import across a package boundary', () => {
    const r = check(plant({ ...cleanTree(), 'demo/src/digest.ts': "export { boardDigest } from '../../packages/peer/src/index.js';\n" }));
    expect(r.code).toBe(1);
    expect(r.err).toContain('imports: demo/src/digest.ts imports "../../packages/peer/src/index.js" across its package boundary');
  });

  it('fails on an @agentmesh import its package.json does not declare (src needs dependencies)', () => {
    const tree = cleanTree();
    tree['packages/crdt-store/src/index.ts'] += "import type { Peer } from '@agentmesh/peer';\n";
    tree['packages/peer/package.json'] = pkg('@agentmesh/peer', ['@agentmesh/scheduler'], ['@agentmesh/crdt-store']);
    const r = check(plant(tree));
    expect(r.code).toBe(1);
    expect(r.err).toContain('imports: packages/crdt-store/src/index.ts imports @agentmesh/peer, but @agentmesh/crdt-store does not declare @agentmesh/peer');
    expect(r.err).toContain('imports: packages/peer/src/index.ts imports @agentmesh/crdt-store/node, but @agentmesh/peer does not declare @agentmesh/crdt-store');
    expect(r.err).toContain('2 violation(s)');
  });
});
