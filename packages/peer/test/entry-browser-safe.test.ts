// The core entry '@agentmesh/peer' (dist/index.js) stays browser-safe: loading it in a fresh Node
// process (scripts/trace-imports.mjs records every module resolution) must not reach libp2p, ws,
// the y-websocket server, the peer's Node-only modules (net/, cli/, ws-endpoint, node entry), any
// node:* module imported by our own packages, nor install the Promise.withResolvers polyfill.
// The '@agentmesh/peer/node' entry is checked to be the one that does bring them, so the test
// cannot pass by tracing nothing. Runs against the build (tsc -b first, as the CLI tests do).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const TRACE = fileURLToPath(new URL('../../../scripts/trace-imports.mjs', import.meta.url));
const CORE = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const NODE = fileURLToPath(new URL('../dist/node.js', import.meta.url));
const AGENTS = fileURLToPath(new URL('../../agents/dist/index.js', import.meta.url));

/** Packages that must never load from a browser-safe entry. */
const NODE_ONLY_PACKAGES = [/^libp2p$/, /^@libp2p\//, /^@chainsafe\//, /^@multiformats\//, /^ws$/, /^@y\/websocket-server$/];
/** The peer's own Node-only modules. */
const NODE_ONLY_MODULES = /\/packages\/peer\/dist\/(net\/|cli\/|ws-endpoint\.js$|node\.js$)/;
/** Our own packages' built modules (a node:* import from one of them is ours, not a library's). */
const OWN_MODULE = /\/packages\/[^/]+\/dist\//;

interface Edge {
  parent: string | null;
  url: string;
}

interface Trace {
  edges: Edge[];
  nativeWithResolvers: boolean;
  polyfilled: boolean;
}

async function trace(entry: string): Promise<Trace> {
  expect(existsSync(entry), `${entry} is missing: run npx tsc -b first`).toBe(true);
  const { stdout } = await run(process.execPath, [TRACE, entry], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

/** The npm package a module URL belongs to (the last node_modules segment), if any. */
function packageOf(url: string): string | undefined {
  const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return m?.[1];
}

/** Every way a traced load breaks browser safety, as readable lines. */
function violations(t: Trace): string[] {
  const out = new Set<string>();
  for (const { parent, url } of t.edges) {
    const pkg = packageOf(url);
    if (pkg && NODE_ONLY_PACKAGES.some((re) => re.test(pkg))) out.add(`loads ${pkg} (from ${parent})`);
    if (NODE_ONLY_MODULES.test(url)) out.add(`loads ${url} (from ${parent})`);
    const builtin = url.startsWith('node:');
    if (builtin && parent && OWN_MODULE.test(parent) && !packageOf(parent)) out.add(`${parent} imports ${url}`);
  }
  if (t.polyfilled) out.add('installs the Promise.withResolvers polyfill');
  return [...out];
}

describe('entry points of @agentmesh/peer', () => {
  it('the core entry loads no libp2p, ws, Node-only module or polyfill', async () => {
    const t = await trace(CORE);
    expect(t.edges.some((e) => e.url.endsWith('/packages/peer/dist/peer.js'))).toBe(true);
    expect(violations(t)).toEqual([]);
  });

  it('@agentmesh/agents is browser-safe too (the core re-exports its contract)', async () => {
    const t = await trace(AGENTS);
    expect(t.edges.some((e) => e.url.endsWith('/packages/agents/dist/builtin.js'))).toBe(true);
    expect(violations(t)).toEqual([]);
  });

  it('the node entry is the one that brings libp2p, ws and the polyfill', async () => {
    const t = await trace(NODE);
    const v = violations(t);
    expect(v.some((l) => l.startsWith('loads libp2p'))).toBe(true);
    expect(v.some((l) => l.startsWith('loads ws'))).toBe(true);
    // Node 22+ has Promise.withResolvers, so there is nothing to polyfill there.
    if (!t.nativeWithResolvers) expect(v).toContain('installs the Promise.withResolvers polyfill');
  });
});
