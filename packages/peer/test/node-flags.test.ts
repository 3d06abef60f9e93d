// Peer processes run with PEER_NODE_FLAGS (a smaller young generation: less RSS for the same
// work). Checked where it can drift: node accepts them, `agentmesh up` (spawnPeer, which the demo
// uses too) starts its peers with them, and the repository's launcher and the CLI's shebang carry
// the same flags.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPeer } from '../dist/cli/up-command.js';
import { stopChild } from '../dist/cli/processes.js';
import { PEER_NODE_FLAGS } from '../src/cli/node-flags.js';

const base = mkdtempSync(join(tmpdir(), 'am-flags-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

describe('node flags of a peer process', () => {
  it('are accepted by node', () => {
    expect(PEER_NODE_FLAGS.length).toBeGreaterThan(0);
    const r = spawnSync(process.execPath, [...PEER_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('are the ones the launcher and the shebang pass', () => {
    const launcher = readFileSync(here('../../../agentmesh'), 'utf8');
    expect(launcher).toContain(`exec node ${PEER_NODE_FLAGS.join(' ')} "$main" "$@"`);
    const shebang = readFileSync(here('../src/cli/main.ts'), 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${PEER_NODE_FLAGS.join(' ')}`);
  });

  it.runIf(process.platform === 'linux')('are what `agentmesh up` starts its peers with', async () => {
    const { child } = await spawnPeer(['--name', 'FL', '--data-dir', join(base, 'FL')]);
    try {
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(argv.slice(1, 1 + PEER_NODE_FLAGS.length)).toEqual([...PEER_NODE_FLAGS]);
    } finally {
      await stopChild(child, 5000);
    }
  });
});
