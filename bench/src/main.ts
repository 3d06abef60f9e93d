// Why: `pnpm bench` entry. Brings up Redis (installing it when it can), runs the chosen phases in
// order, prints a table, writes bench/results/latest.{json,md,svg}, and kills every child process
// on the way out, whatever happened.
import { measureSigning } from './signing.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from './args.js';
import { renderSvg } from './chart.js';
import { runCompare } from './phases/compare.js';
import { runHeal } from './phases/heal.js';
import { runScale } from './phases/scale.js';
import { runWorked } from './phases/worked.js';
import { installHandlers, log, stopAll } from './procs.js';
import { setPeerNodeArgs } from './mesh.js';
import { watchContention } from './contention.js';
import { ensureRedis, loud, startRedis, type RedisHandle } from './redis.js';
import { headline, markdown, ratios, type Results } from './report.js';

async function main(): Promise<number> {
  const cfg = parseArgs(process.argv.slice(2));
  installHandlers();
  setPeerNodeArgs(cfg.peerNodeArgs);
  const t0 = Date.now();
  const contention = watchContention();
  const notes: string[] = [];
  let redis: RedisHandle | undefined;
  let bullmqSkipped: string | null = null;
  const needBull = cfg.only.has('throughput') || cfg.only.has('latency');
  if (!cfg.bullmq) bullmqSkipped = 'disabled with --no-bullmq';
  else if (needBull) {
    const bin = ensureRedis();
    if (!bin) bullmqSkipped = 'redis-server is missing and could not be installed';
    else {
      try {
        redis = await startRedis(bin);
      } catch (e) {
        bullmqSkipped = `redis-server did not start: ${(e as Error).message}`;
        loud([bullmqSkipped, 'BullMQ parts are SKIPPED.']);
      }
    }
  }
  try {
    const failures: string[] = [];
    // A phase that fails is reported and the run goes on: one broken phase must not lose the others.
    const phase = async <T>(name: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      contention.phase(name);
      try {
        return await fn();
      } catch (e) {
        const msg = `phase ${name} FAILED: ${(e as Error).message}`;
        log(msg);
        failures.push(msg);
        await stopAll(2000);
        return fallback;
      }
    };
    const none = { agentmesh: undefined, bullmq: undefined };
    const cmp = needBull ? await phase('throughput/latency', () => runCompare(cfg, redis?.port), none) : none;
    await redis?.stop();
    redis = undefined;
    const worked = cfg.only.has('worked') ? await phase('worked', () => runWorked(cfg), null) : null;
    const heal = cfg.only.has('heal') ? await phase('heal', () => runHeal(cfg), null) : null;
    const scale = cfg.only.has('scale') ? await phase('scale', () => runScale(cfg), []) : [];
    const signing = await phase('signing', async () => measureSigning(64), null);
    notes.push(...failures);
    const busy = contention.stop();
    if (busy.foreign.length) {
      const hit = Object.entries(busy.byPhase).filter(([, v]) => v.foreign > 0).map(([k, v]) => `${k} (${v.foreign} processes, load ${v.loadavg1Max})`);
      const msg = `WARNING: ${busy.foreign.length} other agentmesh/test processes ran on this machine during the run, in phases: ${hit.join(', ')} (${cpus().length} CPUs); those phases' figures are pessimistic. First: ${busy.foreign.slice(0, 3).join(' ; ')}`;
      loud([msg]);
      notes.push(msg);
    }
    const rt = ratios(cmp.agentmesh, cmp.bullmq);
    notes.push(
      'Throughput: first submit to last completion. agentmesh tasks are submitted over HTTP in batches spread over the peers (each submit returns after fsync); BullMQ jobs with addBulk and removeOnComplete.',
      'Latency: agentmesh = `t` of the running event line minus Date.now() just before the POST; BullMQ = Date.now() at processor start minus Date.now() just before queue.add. Same machine clock.',
      'Heal bytes: change in the sum of every peer\'s sync.sentBytes from the heal request until every peer reports the same task counts (includes heartbeats and anti-entropy in that time).',
    );
    const r: Results = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      quick: cfg.quick,
      bullmqSkipped,
      bullmq: headline(cmp.bullmq),
      agentmesh: headline(cmp.agentmesh),
      throughputRatio: rt.throughputRatio,
      p99Ratio: rt.p99Ratio,
      p50Ratio: rt.p50Ratio,
      loaded: { agentmesh: cmp.agentmesh?.loaded ?? null, bullmq: cmp.bullmq?.loaded ?? null, p99Ratio: rt.loadedP99Ratio },
      details: { agentmesh: cmp.agentmesh ?? null, bullmq: cmp.bullmq ?? null },
      workedCaseThroughput: worked?.measuredT ?? null,
      workedCaseShares: worked?.shares ?? null,
      workedCaseDataRate: worked?.measuredD ?? null,
      workedCase: worked,
      heal,
      scale,
      signing,
      runtimeSeconds: Math.round((Date.now() - t0) / 1000),
      contention: busy,
      notes,
    };
    const md = markdown(r);
    mkdirSync(cfg.outDir, { recursive: true });
    writeFileSync(join(cfg.outDir, 'latest.json'), JSON.stringify(r, null, 2) + '\n');
    writeFileSync(join(cfg.outDir, 'latest.md'), md);
    try {
      writeFileSync(join(cfg.outDir, 'latest.svg'), await renderSvg(r));
    } catch (e) {
      log(`chart failed: ${(e as Error).message}`);
    }
    process.stdout.write('\n' + md);
    if (bullmqSkipped && needBull) loud([`BullMQ was SKIPPED: ${bullmqSkipped}`]);
    log(`results in ${cfg.outDir}/latest.{json,md,svg}; total ${r.runtimeSeconds} s`);
    return failures.length ? 1 : 0;
  } finally {
    await redis?.stop().catch(() => {});
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`FAILED: ${(e as Error).stack ?? String(e)}`);
    void stopAll(1000).finally(() => process.exit(1));
  },
);
