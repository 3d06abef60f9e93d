// The CLI's small refusals (issue 14): `agentmesh peer` refuses bad flags with exit 2 before
// anything starts (its data dir is never created); the HTTP API answers 400 for a malformed path
// and for a peer asked to block itself; a client without the --token a peer needs is told so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPeer, type ReadyLine } from '../dist/cli/up-command.js';
import { stopChild } from '../dist/cli/processes.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'am-refuse-'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI and resolves with its exit code and output (never rejects on a non-zero exit). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const clean = { ...process.env, AGENTMESH_WS_TOKEN: '', AGENTMESH_TOKEN: '', ...env };
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, env: clean }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

afterAll(() => rmSync(base, { recursive: true, force: true }));

// Allow-list files for the refusals below.
const badAllow = join(base, 'bad-allow.txt');
writeFileSync(badAllow, '# members\n12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA\nnot-a-peer # oops\n');
const emptyAllow = join(base, 'empty-allow.txt');
writeFileSync(emptyAllow, '# nobody yet\n\n');

describe('agentmesh peer refuses bad flags before anything starts (exit 2)', () => {
  const cases: [string, string[], RegExp][] = [
    ['--ws-host 0.0.0.0 without --ws-token', ['--ws-host', '0.0.0.0'], /--ws-host 0\.0\.0\.0 listens beyond loopback: give --ws-token/],
    ['--ws-host on a LAN address without --ws-token', ['--ws-host', '192.168.1.10'], /--ws-host 192\.168\.1\.10 listens beyond loopback/],
    ['a --room that climbs out (../x)', ['--room', '../x'], /--room must be letters, digits.*"\.\.\/x"/],
    ['a --room with a space', ['--room', 'a b'], /--room must be/],
    ['a --listen that is not a multiaddr', ['--listen', 'not-an-addr'], /--listen "not-an-addr" is not a valid multiaddr/],
    ['a --listen that is not TCP', ['--listen', '/ip4/127.0.0.1/udp/0'], /--listen "\/ip4\/127\.0\.0\.1\/udp\/0" is not a TCP address/],
    ['a --bootstrap that is not a multiaddr', ['--bootstrap', '/ip4/999.1.1.1/tcp/1'], /--bootstrap "\/ip4\/999\.1\.1\.1\/tcp\/1" is not a valid multiaddr/],
    ['a --bootstrap without /p2p/ID', ['--bootstrap', '/ip4/127.0.0.1/tcp/4001'], /--bootstrap \/ip4\/127\.0\.0\.1\/tcp\/4001 must end in \/p2p\/<peer id>/],
    ['an empty --task-events', ['--task-events', ','], /--task-events needs at least one task type/],
    ['a --task-events type longer than a task type can be', ['--task-events', 'x'.repeat(129)], /--task-events: a task type is at most 128 characters, got 129/],
    ['a --bootstrap with a bad peer id', ['--bootstrap', '/ip4/127.0.0.1/tcp/4001/p2p/notapeerid'], /--bootstrap .* (has an invalid peer id|is not a valid multiaddr)/],
    ['an --allow that is not an Ed25519 peer id', ['--allow', '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA,QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'], /--allow "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" is not an Ed25519 peer id/],
    ['an --allow-file that does not exist', ['--allow-file', join(base, 'nope.txt')], /cannot read --allow-file .*nope\.txt: ENOENT/],
    ['an --allow-file with a malformed line', ['--allow-file', badAllow], /--allow-file .*bad-allow\.txt line 3: "not-a-peer" is not an Ed25519 peer id/],
    ['an --allow-file that names nobody', ['--allow-file', emptyAllow], /--allow-file .*empty-allow\.txt names no peer id/],
  ];
  for (const [what, flags, message] of cases) {
    it(`refuses ${what}`, async () => {
      const dir = join(base, `d-${Math.random().toString(36).slice(2)}`);
      const r = await cli(['peer', '--name', 'X', '--data-dir', dir, ...flags]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/^agentmesh peer: /);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain('ready');
      // Before anything started: no data dir, so no key and no log were written.
      expect(existsSync(dir)).toBe(false);
    });
  }

  it('still accepts a non-loopback --ws-host with a token from the environment (no false refusal)', async () => {
    const dir = join(base, 'ok-env');
    // spawnPeer's child inherits this process's environment at spawn time.
    const before = process.env.AGENTMESH_WS_TOKEN;
    process.env.AGENTMESH_WS_TOKEN = 'from-env';
    let started: Awaited<ReturnType<typeof spawnPeer>>;
    try {
      started = await spawnPeer(['--name', 'E', '--data-dir', dir, '--ws-host', '0.0.0.0', '--room', 'team/a.b'], {});
    } finally {
      if (before === undefined) delete process.env.AGENTMESH_WS_TOKEN;
      else process.env.AGENTMESH_WS_TOKEN = before;
    }
    const { child, ready } = started;
    await stopChild(child, 10_000);
    expect(ready.wsUrl).toMatch(/\/team\/a\.b$/);
  }, 30_000);
});

describe('the HTTP API and the clients', () => {
  let peer: { child: ChildProcess; ready: ReadyLine } | undefined;
  const TOKEN = 'tok-refusals';

  beforeAll(async () => {
    peer = await spawnPeer(['--name', 'R', '--data-dir', join(base, 'R'), '--ws-token', TOKEN], {});
  });
  afterAll(async () => {
    if (peer) await stopChild(peer.child, 10_000);
  });
  const http = () => peer!.ready.wsUrl.replace(/^ws/, 'http').replace(/\/agentmesh$/, '');
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('answers 400 (not 500) for a malformed percent-encoding in a task path', async () => {
    for (const path of ['/api/tasks/%E0%A4%A', '/api/tasks/%E0%A4%A/cancel', '/api/tasks/%ZZ/retry', '/api/tasks/%']) {
      const method = path.endsWith('/cancel') || path.endsWith('/retry') ? 'POST' : 'GET';
      const res = await fetch(http() + path, { method, headers: auth });
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: string };
      expect(body.error).toMatch(/malformed task id in path/);
    }
    // A well-formed id that does not exist is still 404.
    expect((await fetch(http() + '/api/tasks/t-nope', { headers: auth })).status).toBe(404);
  });

  it('refuses to partition a peer from itself: 400 over HTTP, non-zero exit from the CLI', async () => {
    const id = peer!.ready.peerId;
    const res = await fetch(http() + '/api/partition', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ block: [id] }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/cannot block itself/);
    const r = await cli(['partition', '--peer', peer!.ready.wsUrl, '--token', TOKEN, '--block', id]);
    expect(r.code).not.toBe(0);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/agentmesh partition: a peer cannot block itself/);
    // Nothing was blocked.
    const status = (await (await fetch(http() + '/api/status', { headers: auth })).json()) as { blocked: string[] };
    expect(status.blocked).toEqual([]);
  });

  it('tells a client without --token that the peer needs one, and one with a wrong token that it was refused', async () => {
    const missing = await cli(['status', '--peer', peer!.ready.wsUrl]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/this peer needs --token/);
    expect(missing.stderr).not.toMatch(/non-JSON/);
    const wrong = await cli(['status', '--peer', peer!.ready.wsUrl, '--token', 'nope']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/refused the --token given/);
    const right = await cli(['status', '--peer', peer!.ready.wsUrl, '--token', TOKEN, '--json']);
    expect(right.code).toBe(0);
    expect(JSON.parse(right.stdout.trim()).tasks).toBeDefined();
  });
});
