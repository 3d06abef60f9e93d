// Stopping child processes the one way every launcher here does it (`agentmesh up`, the demo, the
// bench): ask politely with SIGTERM so a peer can flush and say goodbye, and SIGKILL it if it has
// not exited after a grace period. Node-only: never import this from the browser-safe core.

import type { ChildProcess } from 'node:child_process';

/** True while the child has neither exited nor been ended by a signal. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Sends SIGTERM, then SIGKILL if the child is still running after `graceMs`; resolves once it has
 * exited (at once when it already had).
 */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!isRunning(child)) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
