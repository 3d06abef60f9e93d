// Why: BullMQ needs a Redis. The bench brings its own: installs Debian's redis-server when it is
// missing (as root), starts it on a free loopback port with persistence off in a temp dir, and
// stops it at the end. When that is impossible it says so loudly and BullMQ parts are skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { log, spawnTracked, stopChild, trackTempDir, removeTempDir, until } from './procs.js';

export function loud(lines: string[]): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n\n`);
}

function findRedis(): string | undefined {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

function apt(args: string[], timeoutMs: number): boolean {
  log(`apt-get ${args.join(' ')}`);
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    log(`apt-get failed: ${r.error?.message ?? `exit ${r.status}`} ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
    return false;
  }
  return true;
}

/** Returns the redis-server path, installing it with apt-get when possible; undefined (after a loud warning) otherwise. */
export function ensureRedis(): string | undefined {
  const found = findRedis();
  if (found) return found;
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    loud(['redis-server is missing and the bench cannot install it (needs root and apt-get).', 'BullMQ parts are SKIPPED; agentmesh parts still run.', 'Install it with: apt-get install -y redis-server']);
    return undefined;
  }
  const flags = ['-y', '-q', '-o', 'Dpkg::Use-Pty=0', '-o', 'DPkg::Lock::Timeout=120'];
  const ok = apt([...flags, 'install', 'redis-server'], 300_000) || (apt(['-q', 'update'], 240_000) && apt([...flags, 'install', 'redis-server'], 300_000));
  const path = findRedis();
  if (!ok || !path) {
    loud(['Installing redis-server with apt-get FAILED.', 'BullMQ parts are SKIPPED; agentmesh parts still run.']);
    return undefined;
  }
  return path;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisHandle {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startRedis(bin: string): Promise<RedisHandle> {
  const dir = trackTempDir(mkdtempSync(join(tmpdir(), 'am-bench-redis-')));
  const port = await freePort();
  const child = spawnTracked(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until('redis to accept connections', () => out.includes('Ready to accept connections') || (child.exitCode !== null ? Promise.reject(new Error(out.slice(-500))) : false), 15_000, 50);
  log(`redis-server on 127.0.0.1:${port} (pid ${child.pid})`);
  return {
    port,
    child,
    stop: async () => {
      await stopChild(child, 3000);
      removeTempDir(dir);
    },
  };
}
