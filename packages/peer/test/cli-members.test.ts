// Membership by key against real peer processes (docs/security.md): with an allow-list only the
// listed keys connect and count (a stranger that knows every address is refused and logged), and
// `agentmesh remove-member` writes a signed removal that every member applies: the removed member's
// earlier work stays counted, its connections are refused from then on, and nothing it does later
// reaches the others.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnPeer } from '../dist/cli/up-command.js';
import { isRunning, stopChild } from '../dist/cli/processes.js';
import { generatePeerKey, peerIdOfKey, peerKeyToBytes } from '../dist/net/keys.js';
import { makeUntil } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const base = mkdtempSync(join(tmpdir(), 'am-members-'));
const children: ChildProcess[] = [];
const until = makeUntil({ timeoutMs: 20_000, everyMs: 100 });

afterAll(() => {
  for (const c of children) if (isRunning(c)) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--json'], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

/** A data dir with a fresh key in it: the peer id is known before the peer starts. */
async function identity(name: string): Promise<{ dir: string; id: string }> {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  const key = await generatePeerKey();
  writeFileSync(join(dir, 'peer.key'), peerKeyToBytes(key));
  return { dir, id: peerIdOfKey(key) };
}

async function start(name: string, dir: string, extra: string[]) {
  const err: string[] = [];
  const { child, ready } = await spawnPeer(['--name', name, '--data-dir', dir, ...extra], { onStderr: (l) => err.push(l) });
  children.push(child);
  return { child, ready, err };
}


describe('membership by key', () => {
  it('an allow-list keeps a stranger out; a removed member is refused and its later work reaches nobody', async () => {
    const [a, b, d, x] = await Promise.all(['MA', 'MB', 'MD', 'MX'].map(identity));
    const members = [a!.id, b!.id, d!.id];
    const file = join(base, 'members.txt');
    writeFileSync(file, `# the mesh\n${a!.id}\n${b!.id}   # B\n\n${d!.id}\n`);
    const pa = await start('MA', a!.dir, ['--allow', members.join(',')]);
    const boot = pa.ready.multiaddrs[0]!;
    const pb = await start('MB', b!.dir, ['--allow-file', file, '--bootstrap', boot]);
    const pd = await start('MD', d!.dir, ['--allow-file', file, '--bootstrap', boot]);
    // The stranger allows everyone and knows A's address: A refuses it.
    const px = await start('MX', x!.dir, ['--bootstrap', boot]);
    await until('members see each other', async () => (await cli('status', '--peer', pa.ready.wsUrl)).peers.length === 3);
    await until('refusal of the stranger logged', () => pa.err.some((l) => /refused a peer that is not a member/.test(l) && l.includes(x!.id)));
    const early = await cli('submit', '--peer', pb.ready.wsUrl, '--type', 'echo', '--payload', '"before"', '--count', '3', '--wait');
    expect(early.tasks.every((t: { state: string }) => t.state === 'done')).toBe(true);
    await until('early work everywhere', async () => (await cli('status', '--peer', pd.ready.wsUrl)).tasks.done === 3);
    const sx = await cli('status', '--peer', px.ready.wsUrl);
    expect(sx.peers.map((p: { name: string }) => p.name)).toEqual(['MX']);
    expect(sx.tasks.done).toBe(0);

    // A removes B (by id, through A's API).
    const r = await cli('remove-member', b!.id, '--peer', pa.ready.wsUrl);
    expect(r).toMatchObject({ removed: b!.id, name: 'MB', by: a!.id });
    expect(r.kept).toBeGreaterThan(0);
    for (const p of [pa, pd]) {
      await until('removal applied', async () => {
        const s = await cli('status', '--peer', p.ready.wsUrl);
        return s.trust.removed.includes(b!.id) && s.peers.every((q: { peerId: string }) => q.peerId !== b!.id) && s;
      });
    }
    await until('B cut off', () => [...pa.err, ...pd.err].some((l) => /refused a peer that is not a member/.test(l) && l.includes(b!.id)));
    // B's later work stays on B; its earlier work still counts on A and D.
    const late = await cli('submit', '--peer', pb.ready.wsUrl, '--type', 'echo', '--payload', '"after"');
    await new Promise((res) => setTimeout(res, 1500));
    for (const p of [pa, pd]) {
      const s = await cli('status', '--peer', p.ready.wsUrl);
      expect(s.tasks.done).toBe(3);
      expect(s.trust).toMatchObject({ signed: true, badSignature: 0, removed: [b!.id] });
      const got = await run(process.execPath, [CLI, 'get', late.ids[0], '--peer', p.ready.wsUrl]).catch((e) => e);
      expect(String(got.stderr)).toMatch(/no task/);
    }
    // A malformed removal is refused (exit 2), and so is removing oneself.
    const self = await run(process.execPath, [CLI, 'remove-member', a!.id, '--peer', pa.ready.wsUrl]).catch((e) => e);
    expect(self.code).toBe(2);
    expect(String(self.stderr)).toMatch(/cannot remove itself/);
    const junk = await run(process.execPath, [CLI, 'remove-member', 'nobody', '--peer', pa.ready.wsUrl]).catch((e) => e);
    expect(junk.code).toBe(2);
    await Promise.all([pa, pb, pd, px].map((p) => stopChild(p.child, 10_000)));
  }, 120_000);
});
