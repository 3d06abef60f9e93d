// Why: the bench starts many child processes (peers, BullMQ workers, Redis). This keeps one
// registry of them so every exit path (normal end, error, SIGINT/SIGTERM) kills them all.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { isRunning, stopChild } from '@agentmesh/peer/node';
/** The node flags every peer process runs with (as `agentmesh up` starts them). */
export { PEER_NODE_FLAGS } from '@agentmesh/peer/node';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

export function log(msg: string): void {
  const s = ((Date.now() - START) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}
const START = Date.now();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  installHandlers();
  return track(spawn(cmd, args, opts));
}

export function trackTempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Stops one child: SIGTERM, then SIGKILL after graceMs (the peer package's helper). */
export { stopChild };

/** Synchronous last resort: SIGKILL every child still alive, remove temp dirs. */
export function killAllNow(): void {
  for (const c of children) if (isRunning(c)) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, graceMs)));
  killAllNow();
}

export function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: killing ${children.size} child processes`);
      killAllNow();
      process.exit(130);
    });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value or the deadline passes (then throws). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms: number, every = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(every);
  }
}
