// Keeps the shape issue 10 gave the tree (plain Node, no dependencies):
//   size     no .ts file under packages/ (src and test) over 450 lines, but for the allow-list
//            of generated or table-like data files below;
//   layers   the workspace dependency graph (package.json dependency fields, workspace packages
//            only) has no cycle and follows the layering in LAYERS: nothing depends upward;
//   imports  no file imports another package through a relative path, and every @agentmesh/*
//            import of a package's own code is declared in its package.json (test code may use
//            devDependencies too).
// That the browser-safe entries stay browser-safe is packages/peer/test/entry-browser-safe.test.ts.
// Usage: node scripts/check-structure.mjs [root]   (root defaults to the repository; the test
// points it at planted fixtures). Prints one line per violation and exits 1, else exits 0.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_LINES = 450;
/** Generated or table-like data files allowed to be longer (paths relative to the root). */
const SIZE_ALLOW = new Set([]);

const S = '@agentmesh/scheduler';
const C = '@agentmesh/crdt-store';
const A = '@agentmesh/agents';
const P = '@agentmesh/peer';
const SIM = '@agentmesh/sim';
/** Each workspace package and the workspace packages it may depend on (only those below it). */
const LAYERS = {
  [S]: [],
  [C]: [S],
  [A]: [S],
  [P]: [S, C, A],
  [SIM]: [S, C, A, P],
  '@agentmesh/demo': [S, C, A, P, SIM],
  '@agentmesh/bench': [S, C, A, P, SIM],
};

const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];
const CODE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test-output', 'coverage', '.git']);

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const violations = [];
const rel = (p) => relative(root, p).split(sep).join('/');

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) walk(join(dir, e.name), out);
    } else if (e.isFile()) out.push(join(dir, e.name));
  }
  return out;
}

/** The workspace package directories: the `packages:` list of pnpm-workspace.yaml (`dir` or `dir/*`). */
function workspaceDirs() {
  const file = join(root, 'pnpm-workspace.yaml');
  const patterns = [];
  if (existsSync(file)) {
    let inList = false;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (/^packages:\s*$/.test(line)) inList = true;
      else if (inList && /^\s+-\s+/.test(line)) patterns.push(line.replace(/^\s+-\s+/, '').replace(/['"]/g, '').trim());
      else if (inList && /^\S/.test(line)) inList = false;
    }
  } else patterns.push('packages/*');
  const dirs = [];
  for (const p of patterns) {
    if (p.endsWith('/*')) {
      const base = join(root, p.slice(0, -2));
      if (!existsSync(base)) continue;
      for (const e of readdirSync(base, { withFileTypes: true })) if (e.isDirectory()) dirs.push(join(base, e.name));
    } else dirs.push(join(root, p));
  }
  return dirs.filter((d) => existsSync(join(d, 'package.json')));
}

// size
for (const file of walk(join(root, 'packages'))) {
  if (!/\.(ts|tsx|mts|cts)$/.test(file) || SIZE_ALLOW.has(rel(file))) continue;
  const text = readFileSync(file, 'utf8');
  const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) violations.push(`size: ${rel(file)} has ${lines} lines (at most ${MAX_LINES}; split it by the state it owns)`);
}

// layers
const pkgs = workspaceDirs().map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }));
const byName = new Map(pkgs.map((p) => [p.json.name, p]));
const graph = new Map();
for (const { dir, json } of pkgs) {
  const deps = new Set();
  for (const field of DEP_FIELDS) for (const d of Object.keys(json[field] ?? {})) if (byName.has(d) && d !== json.name) deps.add(d);
  graph.set(json.name, [...deps].sort());
  const allowed = LAYERS[json.name];
  if (!allowed) {
    violations.push(`layers: ${rel(dir)} (${json.name}) is not in the layering; add it to LAYERS in scripts/check-structure.mjs`);
    continue;
  }
  for (const d of deps) {
    if (!allowed.includes(d)) violations.push(`layers: ${json.name} depends on ${d}, which is not below it (${json.name} may depend on: ${allowed.join(', ') || 'no workspace package'})`);
  }
}
const state = new Map(); // name -> 'open' | 'done'
const seenCycles = new Set();
function visit(name, path) {
  state.set(name, 'open');
  for (const d of graph.get(name) ?? []) {
    if (state.get(d) === 'open') {
      const cycle = [...path.slice(path.indexOf(d)), d];
      const key = [...cycle.slice(0, -1)].sort().join(' ');
      if (!seenCycles.has(key)) {
        seenCycles.add(key);
        violations.push(`layers: dependency cycle ${cycle.join(' -> ')}`);
      }
    } else if (!state.has(d)) visit(d, [...path, d]);
  }
  state.set(name, 'done');
}
for (const name of [...graph.keys()].sort()) if (!state.has(name)) visit(name, [name]);

// imports
const IMPORT_RES = [
  /(?:^|[\s;}])(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"\n]+)['"]/g, // import x from '…', export … from '…'
  /(?:^|[\s;])import\s*['"]([^'"\n]+)['"]/g, // import '…'
  /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g, // import('…')
  /\brequire\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g, // require('…')
];
const isTest = (relInPkg) => /(^|\/)test\//.test(relInPkg) || /\.test\.[cm]?[jt]sx?$/.test(relInPkg);
for (const { dir, json } of pkgs) {
  const declared = new Set(Object.keys(json.dependencies ?? {}));
  const declaredForTests = new Set([...declared, ...Object.keys(json.devDependencies ?? {})]);
  for (const file of walk(dir)) {
    if (!CODE.test(file)) continue;
    const inPkg = relative(dir, file).split(sep).join('/');
    const text = readFileSync(file, 'utf8');
    const specs = new Set();
    for (const re of IMPORT_RES) for (const m of text.matchAll(re)) specs.add(m[1]);
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (relative(dir, target).startsWith('..')) {
          violations.push(`imports: ${rel(file)} imports ${JSON.stringify(spec)} across its package boundary; import the package by name instead`);
        }
      } else if (spec.startsWith('@agentmesh/')) {
        const name = spec.split('/').slice(0, 2).join('/');
        if (name === json.name) continue;
        const ok = isTest(inPkg) ? declaredForTests : declared;
        if (!ok.has(name)) {
          violations.push(`imports: ${rel(file)} imports ${spec}, but ${json.name} does not declare ${name} in its package.json ${isTest(inPkg) ? 'dependencies or devDependencies' : 'dependencies'}`);
        }
      }
    }
  }
}

if (violations.length) {
  for (const v of violations) process.stderr.write(`check-structure: ${v}\n`);
  process.stderr.write(`check-structure: ${violations.length} violation(s) in ${root}\n`);
  process.exit(1);
}
process.stdout.write(`check-structure: ok (${pkgs.length} workspace packages, files in packages/ at most ${MAX_LINES} lines, no cycle, no upward or undeclared import)\n`);
