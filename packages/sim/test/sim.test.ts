// The simulator itself: same seed, same bytes; the checks really catch lost, split and stuck tasks;
// the CLI obeys its contract (JSON last line, exit codes, usage errors).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock } from '@agentmesh/peer';
import { runSimulation, checkRun, parseArgs, reproduceCommand, defaultHealBudget, UsageError, FAULT_NAMES, publicJson } from '../src/index.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const soak = fileURLToPath(new URL('../dist/soak.js', import.meta.url));

describe('determinism', () => {
  it('the same seed gives the same run, different seeds differ', async () => {
    const cfg = { peers: 5, tasks: 60, steps: 1000, stepMs: 10, faults: new Set(FAULT_NAMES), healBudget: 3000 };
    const a = await runSimulation({ seed: 7, ...cfg });
    const b = await runSimulation({ seed: 7, ...cfg });
    const c = await runSimulation({ seed: 8, ...cfg });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    expect(a.ok).toBe(true);
    expect(a.crashes + a.partitions).toBeGreaterThan(0);
  });

  it('archives finished tasks into new document generations, also during partitions', async () => {
    const r = await runSimulation({ seed: 7, peers: 5, tasks: 100, steps: 1500, stepMs: 10, faults: new Set(FAULT_NAMES), healBudget: 3000 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.generations).toBeGreaterThanOrEqual(3);
    expect(r.archived).toBeGreaterThan(50);
    expect(r.generationMovesInPartition).toBeGreaterThan(0);
    expect(r.lostTasks).toBe(0);
  }, 60_000);

  it('with no faults nothing runs twice', async () => {
    const r = await runSimulation({ seed: 3, peers: 5, tasks: 100, steps: 1000, stepMs: 10, faults: new Set(), healBudget: 3000 });
    expect(r.ok).toBe(true);
    expect(r.duplicateRuns).toBe(0);
    expect(r.duplicateCauses).toEqual({ partition: 0, crash: 0, unjustified: 0 });
    expect(r.runStarts).toBeGreaterThanOrEqual(100);
    expect(r.completed + r.dead).toBe(100);
  });

  it('with strict duplicates, a run fails exactly when it has an unjustified duplicate, and says which', async () => {
    // Seed 9 has both kinds of justified duplicate (a partition and a crash); any seed with one will do.
    const cfg = { seed: 9, peers: 4, tasks: 40, steps: 800, stepMs: 10, faults: new Set(FAULT_NAMES), healBudget: 3000 };
    const lax = await runSimulation({ ...cfg, strictDuplicates: false });
    const strict = await runSimulation({ ...cfg, strictDuplicates: true });
    const dups = lax.duplicateCauses.partition + lax.duplicateCauses.crash + lax.duplicateCauses.unjustified;
    expect(dups).toBeGreaterThan(0);
    expect(Object.values(lax.unjustifiedKinds).reduce((a, b) => a + b, 0)).toBe(lax.duplicateCauses.unjustified);
    expect(strict.duplicateCauses).toEqual(lax.duplicateCauses);
    expect(lax.problems.some((p) => p.includes('unjustified'))).toBe(false);
    expect(strict.ok).toBe(lax.ok && lax.duplicateCauses.unjustified === 0);
    if (lax.duplicateCauses.unjustified > 0) expect(strict.problems.join('\n')).toMatch(/unjustified duplicate run \(.*\) of task \S+: p\d started round \d+ at t=\d+ ms while p\d's run of round \d+/);
  });
});

describe('checkRun catches what it must', () => {
  function twoReplicas() {
    const hub = new MemoryHub();
    return [0, 1].map((i) => new Peer({ id: `p${i}`, name: `P${i}`, capacity: 1, agents: {}, transport: hub.join(`p${i}`), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i }));
  }
  const spec = (id: string) => ({ id, type: 'work', payload: null, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3, timeoutMs: 0, createdAt: 0, createdBy: 'p0', notBefore: 0, strategy: 'capacity-weighted' as const });

  it('split winners, lost tasks, stuck tasks, lost data and wrong results', () => {
    const [a, b] = twoReplicas() as [Peer, Peer];
    for (const p of [a, b]) {
      p.document.board.putTask(spec('t-split'));
      p.document.board.putTask(spec('t-stuck'));
    }
    a.document.board.putTask(spec('t-lost'));
    a.document.board.putClaim('t-split', { peer: 'p0', round: 1, score: 1, at: 0 });
    a.document.board.putDone('t-split', { peer: 'p0', round: 1, result: 1, at: 1, ms: 1 });
    b.document.board.putClaim('t-split', { peer: 'p1', round: 1, score: 1, at: 0 });
    b.document.board.putDone('t-split', { peer: 'p1', round: 1, result: 2, at: 1, ms: 1 });
    const tasks = [
      { id: 't-split', acked: true, expected: 1, failTimes: 0, dependsOn: [] },
      { id: 't-stuck', acked: true, expected: 1, failTimes: 0, dependsOn: [] },
      { id: 't-lost', acked: true, expected: 1, failTimes: 0, dependsOn: [] },
    ];
    const r = checkRun([a, b], tasks, new Set(['work/item-x']));
    expect(r.tasksWithoutOneWinner).toBe(1);
    expect(r.stuck).toBe(1);
    expect(r.lostTasks).toBe(1);
    expect(r.lostData).toBe(1);
    const agree = checkRun([a], [{ ...tasks[0]!, expected: 99 }], new Set());
    expect(agree.wrongResults).toBe(1);
  });
});

describe('args', () => {
  it('ignores a leading --, parses the contract flags', () => {
    const a = parseArgs(['--', '--peers', '7', '--tasks', '300', '--steps', '3000', '--seed', '42', '--faults', 'partition,drop,duplicate,reorder,delay,crash,skew', '--json']);
    expect(a).toMatchObject({ peers: 7, tasks: 300, steps: 3000, seed: 42, json: true });
    expect(a.faults.size).toBe(7);
    expect(parseArgs(['--seeds', '1..10']).seedRange).toEqual([1, 10]);
    expect(parseArgs(['--faults', 'none']).faults.size).toBe(0);
  });
  it('the heal budget: derived unless given, and only an explicit one is in the reproduce command', () => {
    const d = parseArgs(['--peers', '3', '--tasks', '2000']);
    expect(d.healBudget).toBeUndefined();
    expect(defaultHealBudget(5, 100)).toBeGreaterThanOrEqual(3000);
    expect(defaultHealBudget(3, 2000)).toBeGreaterThan(defaultHealBudget(15, 2000));
    expect(reproduceCommand(d, 9)).not.toMatch(/heal-budget/);
    const e = parseArgs(['--heal-budget', '20000', '--strict-duplicates', '--seed-timeout', '30', '--max-minutes', '5']);
    expect(e).toMatchObject({ healBudget: 20000, strictDuplicates: true, seedTimeout: 30, maxMinutes: 5 });
    expect(reproduceCommand(e, 9)).toMatch(/--heal-budget 20000$/);
    expect(parseArgs([]).strictDuplicates).toBe(true);
    const lax = parseArgs(['--lax-duplicates']);
    expect(lax.strictDuplicates).toBe(false);
    expect(reproduceCommand(lax, 9)).toMatch(/--lax-duplicates$/);
  });
  it.each([
    [['--bogus'], /unknown option/],
    [['--seed', '-1'], /whole number/],
    [['--seed', 'abc'], /whole number/],
    [['--seed'], /needs a value/],
    [['--peers', '0'], /between 1 and 64/],
    [['--faults', 'partition,meteor'], /unknown fault "meteor"/],
    [['--seeds', '5..1'], /empty/],
    [['--seeds', '1-5'], /A\.\.B/],
    [['stray'], /unexpected argument/],
  ])('%j is a usage error', (argv, msg) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(msg);
  });
});

describe('CLI', () => {
  it('prints the contract JSON as its last line and exits 0', () => {
    const out = execFileSync(process.execPath, [cli, '--', '--peers', '3', '--tasks', '20', '--steps', '300', '--seed', '5', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const last = out.trim().split('\n').at(-1)!;
    const j = JSON.parse(last);
    expect(Object.keys(j).slice(0, 11)).toEqual(['seed', 'peers', 'tasks', 'steps', 'converged', 'lostTasks', 'lostData', 'tasksWithoutOneWinner', 'duplicateRuns', 'completed', 'healSteps']);
    expect(Object.keys(j).at(-1)).toBe('ok');
    // Keys added since (issue 12) come after the old ones, before `ok`, which stays last.
    expect(Object.keys(j).slice(-6)).toEqual(['messages', 'duplicateCauses', 'unjustifiedKinds', 'runStarts', 'healBudget', 'ok']);
    expect(Object.keys(j.duplicateCauses)).toEqual(['partition', 'crash', 'unjustified']);
    expect(j).toMatchObject({ seed: 5, peers: 3, tasks: 20, steps: 300, converged: true, ok: true });
  });
  it('exits 2 with a clear message on bad usage, and --help exits 0', () => {
    const bad = spawnSync(process.execPath, [cli, '--faults', 'lightning'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown fault "lightning"/);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--seeds A\.\.B/);
  });
  it('soak: runs a range in worker threads, prints the summary, fails a seed that outlives its time limit', () => {
    const ok = spawnSync(process.execPath, [soak, '--seeds', '1..2', '--peers', '3', '--tasks', '10', '--steps', '200', '--jobs', '2', '--json'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const s = JSON.parse(ok.stdout.trim().split('\n').at(-1)!);
    expect(s).toMatchObject({ seeds: '1..2', runs: 2, failed: [], notRun: 0, lostTasks: 0, ok: true });
    expect(Object.keys(s.duplicateCauses)).toEqual(['partition', 'crash', 'unjustified']);
    expect(s.seedsPerSecond).toBeGreaterThan(0);
    expect(ok.stderr).toMatch(/soak: 2\/2 seeds/);
    const slow = spawnSync(process.execPath, [soak, '--seeds', '1..1', '--tasks', '3000', '--steps', '100000', '--jobs', '1', '--seed-timeout', '1'], { encoding: 'utf8' });
    expect(slow.status).toBe(1);
    expect(slow.stderr).toMatch(/FAIL seed=1: timed out after 1 s/);
    expect(slow.stdout).toMatch(/reproduce: pnpm sim -- --peers 5 --tasks 3000 --steps 100000 --seed 1/);
    const bad = spawnSync(process.execPath, [soak, '--peers', '3'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/soak needs --seeds/);
  }, 120_000);
  it('the public JSON has no wall-clock fields', () => {
    expect(Object.keys(publicJson({ seed: 1, peers: 1, tasks: 0, steps: 1, converged: true, lostTasks: 0, lostData: 0, tasksWithoutOneWinner: 0, duplicateRuns: 0, completed: 0, healSteps: 0, dead: 0, stuck: 0, wrongResults: 0, crashes: 0, partitions: 0, messages: { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytes: 0 }, problems: [], ok: true }))).not.toContain('ms');
  });
});
