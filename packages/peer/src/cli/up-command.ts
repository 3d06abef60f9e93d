// `agentmesh up`: starts N local peer processes in one command (the first, then the others at once
// with the first as their bootstrap), prints their ready lines, and stops them all on Ctrl-C / SIGTERM.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UsageError, type CommandSpec, type FlagValues } from './flags.js';
import { stopChild } from './processes.js';
import { PEER_NODE_FLAGS } from './node-flags.js';

export const UP: CommandSpec = {
  name: 'up',
  summary: 'Starts N local peers in one command and keeps them running until Ctrl-C.',
  usage: 'agentmesh up [--peers 3] [--capacities 10,20,30] [--data-dir DIR] [--json]',
  flags: [
    { name: 'peers', type: 'int', arg: 'N', help: 'how many peers', default: 3, min: 1, max: 32 },
    { name: 'capacities', type: 'string', arg: 'C[,C]', help: 'tasks/s per peer (one value for all, or one per peer)', repeat: true },
    { name: 'concurrency', type: 'int', arg: 'M', help: 'tasks run at once per peer', default: 16, min: 1 },
    { name: 'agents', type: 'string', arg: 'a,b', help: 'agents every peer runs (default: all built-in)', repeat: true },
    { name: 'data-dir', type: 'string', arg: 'DIR', help: 'parent of the peers\' data dirs (default: a new temp dir)' },
    { name: 'secret', type: 'string', arg: 'S', help: 'mesh secret', env: 'AGENTMESH_SECRET' },
    { name: 'ws-port', type: 'int', arg: 'N', help: 'websocket port of the first peer (others get free ports); 0 = any', default: 0, min: 0, max: 65535 },
    { name: 'log-level', type: 'string', arg: 'LEVEL', help: 'debug|info|warn|error', default: 'warn' },
    { name: 'json', type: 'bool', help: 'print JSON lines on stdout' },
  ],
};

export interface ReadyLine {
  event: 'ready';
  name: string;
  peerId: string;
  multiaddrs: string[];
  wsUrl: string;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** Starts one `agentmesh peer` child and resolves with its ready line. */
export function spawnPeer(args: string[], opts: { onLine?: (line: string) => void; onStderr?: (line: string) => void; timeoutMs?: number } = {}): Promise<{ child: ChildProcess; ready: ReadyLine }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...PEER_NODE_FLAGS, MAIN, 'peer', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`peer did not become ready within ${opts.timeoutMs ?? 30_000} ms`));
    }, opts.timeoutMs ?? 30_000);
    const errLines: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => {
      if (errLines.length < 50) errLines.push(l);
      opts.onStderr?.(l);
    });
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (!done) {
        try {
          const j = JSON.parse(l) as ReadyLine;
          if (j.event === 'ready') {
            done = true;
            clearTimeout(timer);
            resolve({ child, ready: j });
            return;
          }
        } catch {
          /* not JSON: ignore */
        }
      }
      opts.onLine?.(l);
    });
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`peer exited with code ${code} before it was ready: ${errLines.slice(-5).join(' | ')}`));
    });
  });
}

export async function runUp(v: FlagValues): Promise<number> {
  const n = Number(v.peers);
  const caps = ((v.capacities as string[] | undefined) ?? ['10']).map((c) => {
    const x = Number(c);
    if (!Number.isFinite(x) || x <= 0) throw new UsageError(`--capacities must be positive numbers, got ${JSON.stringify(c)}`);
    return x;
  });
  if (caps.length !== 1 && caps.length !== n) throw new UsageError(`--capacities has ${caps.length} values for ${n} peers (give one, or one per peer)`);
  const json = Boolean(v.json);
  const base = v['data-dir'] ? String(v['data-dir']) : await mkdtemp(join(tmpdir(), 'agentmesh-up-'));
  await mkdir(base, { recursive: true });
  const children: ChildProcess[] = [];
  const readies: ReadyLine[] = [];
  const stopAll = async () => {
    await Promise.all(children.map((c) => stopChild(c, 15_000)));
  };
  const launch = async (i: number, bootstrap: string | undefined): Promise<ReadyLine> => {
    const name = `P${i + 1}`;
    const args = ['--name', name, '--data-dir', join(base, name), '--capacity', String(caps[caps.length === 1 ? 0 : i]), '--concurrency', String(v.concurrency), '--log-level', String(v['log-level'])];
    if (i === 0 && Number(v['ws-port']) > 0) args.push('--ws-port', String(v['ws-port']));
    if (bootstrap) args.push('--bootstrap', bootstrap);
    if (v.agents) args.push('--agents', (v.agents as string[]).join(','));
    if (v.secret) args.push('--secret', String(v.secret));
    const { child, ready } = await spawnPeer(args, {
      onLine: (l) => json && process.stdout.write(l + '\n'),
      onStderr: (l) => process.stderr.write(`[${name}] ${l}\n`),
    });
    children.push(child);
    child.on('exit', (code, sig) => process.stderr.write(`[${name}] exited (${sig ?? code})\n`));
    return ready;
  };
  try {
    // The first peer, then all the others at once through it (as the demo does).
    readies.push(await launch(0, undefined));
    const rest = await Promise.allSettled(Array.from({ length: n - 1 }, (_, k) => launch(k + 1, readies[0]!.multiaddrs[0])));
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const r of rest) if (r.status === 'fulfilled') readies.push(r.value);
  } catch (e) {
    await stopAll();
    throw e;
  }
  if (json) process.stdout.write(JSON.stringify({ event: 'up', dataDir: base, peers: readies }) + '\n');
  else {
    process.stdout.write(`${n} peers up (data in ${base}):\n`);
    for (const r of readies) process.stdout.write(`  ${r.name.padEnd(4)} ${r.wsUrl}  ${r.peerId}\n`);
    process.stdout.write(`Try: ./agentmesh submit --peer ${readies[0]!.wsUrl} --type echo --payload '{"hi":1}' --wait\nCtrl-C stops them all.\n`);
  }
  return await new Promise<number>((resolve) => {
    const stop = () => void stopAll().then(() => resolve(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
