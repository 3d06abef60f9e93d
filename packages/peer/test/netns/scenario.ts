// The bookkeeping every network scenario shares: which tasks were acknowledged and what each must
// return, which ones a fault could catch in flight, the closing checks, and the peers' logs
// written out (and their tails printed) when a scenario fails.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { checkRun, inFlight, until, waitSameDocument, waitSettled, type RunReport } from './checks.js';
import { dumpLogs, type NetPeer } from './mesh.js';

export const OUTPUT = fileURLToPath(new URL('../../../../test-output/netns/', import.meta.url));

export class Ledger {
  /** Every acknowledged task and its right result. */
  readonly expected = new Map<string, unknown>();
  /** Tasks a fault may have caught in flight: a duplicate run is justified for these only. */
  readonly exposed = new Set<string>();

  /** Submits through `p`; every id it acknowledges is expected to end done with the right result. */
  async submit(p: NetPeer, task: { type: 'sleep' | 'echo'; payload: unknown; count?: number; exclusive?: boolean }): Promise<string[]> {
    const ids = await p.submit(task);
    const result = task.type === 'sleep' ? { slept: (task.payload as { ms: number }).ms } : task.payload;
    for (const id of ids) this.expected.set(id, result);
    return ids;
  }

  /** Marks every task not yet ended on some peer as exposed to the fault that starts now. */
  async exposeInFlight(peers: NetPeer[]): Promise<number> {
    const open = await inFlight(peers, [...this.expected.keys()]);
    for (const id of open) this.exposed.add(id);
    return open.size;
  }

  /**
   * The work before a fault: short tasks that all end first (no fault may run them twice), then
   * long ones that are running when the fault comes (exposed to it). Returns the ids of both.
   */
  async warmUp(via: NetPeer, peers: NetPeer[]): Promise<{ short: string[]; long: string[]; exposed: number }> {
    const short = await this.submit(via, { type: 'sleep', payload: { ms: 300 }, count: 40 });
    await until('the short tasks ended everywhere', async () => (await inFlight(peers, short)).size === 0);
    const long = await this.submit(via, { type: 'sleep', payload: { ms: 2500 }, count: 40 });
    await until('long tasks running', async () => (await via.status()).tasks.running! > 0);
    return { short, long, exposed: await this.exposeInFlight(peers) };
  }

  expose(ids: string[]): void {
    for (const id of ids) this.exposed.add(id);
  }

  get ids(): string[] {
    return [...this.expected.keys()];
  }
}

export interface Closing {
  settleMs: number;
  report: RunReport;
  document: string;
}

/** The closing checks: everything ended and agreed, one winner, no unjustified duplicate run. */
export async function closeScenario(peers: NetPeer[], ledger: Ledger, settleTimeoutMs = 90_000): Promise<Closing> {
  const settleMs = await waitSettled(peers, ledger.ids, settleTimeoutMs);
  // Every task ended on every peer is not every peer holding every run: a peer cut off from the one
  // that ran a task again (its address changed) sees the task done by its own run and gets the
  // other run later, relayed by anti-entropy. The runs are compared once the documents agree.
  const document = await waitSameDocument(peers);
  const report = await checkRun(peers, ledger.expected, ledger.exposed);
  expect(report.problems, 'problems').toEqual([]);
  expect(report.lostTasks).toBe(0);
  expect(report.unsettled).toBe(0);
  expect(report.tasksWithoutOneWinner).toBe(0);
  expect(report.wrongResults).toBe(0);
  expect(report.unjustifiedDuplicates).toBe(0);
  return { settleMs, report, document };
}

/** Runs a scenario; when it fails, the peers' logs go to test-output/netns/ and their tails to stderr (NETNS_LOGS=1: always). */
export async function withLogs<T>(label: string, peers: () => NetPeer[], body: () => Promise<T>): Promise<T> {
  try {
    const out = await body();
    // NETNS_LOGS=1 keeps every scenario's logs, not only a failed one's.
    if (process.env.NETNS_LOGS) dumpLogs(peers(), OUTPUT, label);
    return out;
  } catch (e) {
    const states = await Promise.all(
      peers().map(async (p) => {
        try {
          const s = await p.status();
          return `${p.name}: alive ${s.peers.filter((x) => x.alive).map((x) => x.name).join('')} tasks ${JSON.stringify(s.tasks)} duplicates ${s.duplicateRuns}`;
        } catch (err) {
          return `${p.name}: no status (${(err as Error).message})`;
        }
      }),
    );
    const tails = dumpLogs(peers(), join(OUTPUT), label);
    process.stderr.write(`\n=== ${label} failed: ${(e as Error).message}\n${states.join('\n')}\n${tails}\n`);
    throw e;
  }
}

/** One line for the test output: what a scenario measured. */
export function summary(label: string, parts: Record<string, unknown>): void {
  process.stdout.write(`[netns] ${label}: ${Object.entries(parts).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')}\n`);
}
