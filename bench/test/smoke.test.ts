// Why: proves the whole harness works end to end at tiny sizes (every phase, real processes,
// Redis when it can be had) and that latest.json carries the keys the README relies on.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-child.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

const run = (args: string[], ms: number) => runScript(MAIN, args, ms);

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

describe('bench --quick', () => {
  it('runs every phase end to end and writes results with the agreed keys', async () => {
    const out = mkdtempSync(join(tmpdir(), 'am-bench-test-'));
    try {
      const t0 = Date.now();
      const r = await run(['--quick', '--tasks', '200', '--latency-samples', '50', '--loaded-samples', '50', '--scale', '3', '--heal-peers', '4', '--heal-tasks', '50', '--worked-seconds', '3', '--out', out], 110_000);
      if (r.code !== 0) console.error(r.stderr.slice(-4000));
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('| throughput, tasks/s');
      for (const f of ['latest.json', 'latest.md', 'latest.svg']) expect(existsSync(join(out, f))).toBe(true);
      const j = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
      for (const k of ['date', 'node', 'cpus', 'bullmq', 'agentmesh', 'throughputRatio', 'p99Ratio', 'workedCaseThroughput', 'workedCaseShares', 'workedCaseDataRate', 'heal', 'scale']) expect(j).toHaveProperty(k);
      expect(j.node).toBe(process.version);
      expect(positive(j.cpus)).toBe(true);
      // agentmesh: every task completed, figures positive.
      expect(j.details.agentmesh.throughput.completed).toBe(200);
      for (const k of ['throughput', 'p50Ms', 'p99Ms']) expect(j.agentmesh[k]).toBeGreaterThanOrEqual(0);
      expect(positive(j.agentmesh.throughput)).toBe(true);
      // CPU per task, in the run and until the peers were quiet again (which includes the run).
      const tp = j.details.agentmesh.throughput;
      expect(positive(tp.cpuMsPerTask)).toBe(true);
      expect(tp.settledCpuMsPerTask).toBeGreaterThanOrEqual(tp.cpuMsPerTask);
      expect(j.details.agentmesh.latency.n).toBe(50);
      expect(j.details.agentmesh.loaded.n).toBe(50);
      if (j.bullmqSkipped) {
        console.warn(`\n!!!!!!!!!! BullMQ SKIPPED in the bench smoke test: ${j.bullmqSkipped} !!!!!!!!!!\n`);
        expect(j.throughputRatio).toBeNull();
      } else {
        expect(j.details.bullmq.throughput.completed).toBe(200);
        expect(positive(j.bullmq.throughput)).toBe(true);
        expect(j.details.bullmq.latency.n).toBe(50);
        expect(positive(j.throughputRatio)).toBe(true);
        expect(positive(j.p99Ratio)).toBe(true);
      }
      // Worked case: the peers worked, roughly in proportion to capacity.
      expect(positive(j.workedCaseThroughput)).toBe(true);
      expect(j.workedCaseShares).toHaveLength(3);
      expect(j.workedCaseShares[2]).toBeGreaterThan(j.workedCaseShares[0]);
      expect(positive(j.workedCaseDataRate)).toBe(true);
      // Heal: bytes were sent, and no fewer than the minimal diff.
      expect(j.heal.peers).toBe(4);
      expect(positive(j.heal.minimalDiffBytes)).toBe(true);
      expect(j.heal.bytes).toBeGreaterThanOrEqual(j.heal.minimalDiffBytes);
      expect(positive(j.heal.ms)).toBe(true);
      // Per receiver: every peer received about its own minimal diff at least (it converged; the
      // encodings of several updates and of one diff differ a little).
      expect(j.heal.receivers).toHaveLength(4);
      for (const r of j.heal.receivers) expect(r.receivedBytes).toBeGreaterThanOrEqual(0.9 * r.minimalBytes);
      expect(j.heal.receivedRatioMax).toBeGreaterThanOrEqual(j.heal.receivedRatioTotal);
      expect(positive(j.heal.replicaApplyMs)).toBe(true);
      // Per-receiver heal times: each peer held both halves no later than all of them agreed.
      for (const r of j.heal.receivers) {
        expect(r.healMs).toBeGreaterThan(0);
        expect(r.healMs).toBeLessThanOrEqual(j.heal.ms);
        expect(positive(r.applyMs)).toBe(true);
      }
      expect(j.heal.timeRatioMax).toBeGreaterThan(0);
      expect(j.heal.timeRatioTotal).toBeCloseTo(j.heal.ms / j.heal.replicaApplyMs, 0);
      // Scale: one point, all tasks done.
      expect(j.scale).toHaveLength(1);
      expect(j.scale[0]).toMatchObject({ peers: 3, tasks: 200, completed: 200 });
      expect(positive(j.scale[0].bytesPerTask)).toBe(true);
      // Lease expiries written, summed over the peers: a number (a few at most on 3 idle-enough peers).
      expect(Number.isInteger(j.scale[0].expiries) && j.scale[0].expiries >= 0).toBe(true);
      expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg/);
      // No child process left behind: the bench's peers and workers are gone.
      console.log(`bench smoke test: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
