// The simulator runs real Peers on the core entry of @agentmesh/peer only: loading the built sim
// (dist/index.js) in a fresh Node process must not reach libp2p, ws, the y-websocket server or
// the peer's Node-only modules (scripts/trace-imports.mjs records every module resolution).
// Runs against the build (tsc -b first).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const TRACE = fileURLToPath(new URL('../../../scripts/trace-imports.mjs', import.meta.url));
const SIM = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const FORBIDDEN = /\/node_modules\/(libp2p|@libp2p|@chainsafe|@multiformats|ws|@y\/websocket-server)\/|\/packages\/peer\/dist\/(net\/|cli\/|ws-endpoint\.js$|node\.js$)/;

describe('the simulator uses only the peer core', () => {
  it('loads no libp2p, ws or Node-only peer module', async () => {
    expect(existsSync(SIM), `${SIM} is missing: run npx tsc -b first`).toBe(true);
    const { stdout } = await run(process.execPath, [TRACE, SIM], { timeout: 60_000 });
    const { edges, polyfilled } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { edges: { parent: string | null; url: string }[]; polyfilled: boolean };
    expect(edges.some((e) => e.url.endsWith('/packages/peer/dist/peer.js'))).toBe(true);
    expect(edges.filter((e) => FORBIDDEN.test(e.url)).map((e) => `${e.parent} -> ${e.url}`)).toEqual([]);
    expect(polyfilled).toBe(false);
  });
});
