// stopChild: SIGTERM first; SIGKILL only for a child still running after the grace period.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { isRunning, stopChild } from '../src/cli/processes.js';

function child(code: string) {
  const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
  // Resolves once the child has installed its handlers and said so.
  const ready = new Promise<void>((r) => c.stdout!.once('data', () => r()));
  return { c, ready };
}

describe('stopChild', () => {
  it('ends a child that obeys SIGTERM without waiting for the grace period', async () => {
    const { c, ready } = child('setInterval(() => {}, 1000); console.log("up")');
    await ready;
    const t = Date.now();
    await stopChild(c, 10_000);
    expect(c.signalCode).toBe('SIGTERM');
    expect(Date.now() - t).toBeLessThan(5_000);
    expect(isRunning(c)).toBe(false);
  });

  it('SIGKILLs a child that ignores SIGTERM once the grace period is over', async () => {
    const { c, ready } = child('process.on("SIGTERM", () => {}); setInterval(() => {}, 1000); console.log("up")');
    await ready;
    const t = Date.now();
    await stopChild(c, 300);
    expect(c.signalCode).toBe('SIGKILL');
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
  });

  it('resolves at once for a child that already exited', async () => {
    const { c } = child('console.log("bye")');
    await new Promise((r) => c.once('exit', r));
    expect(isRunning(c)).toBe(false);
    await stopChild(c, 10_000);
  });
});
