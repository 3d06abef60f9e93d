// Why: bench:starved is a tool others script against (its JSON line): its flags refuse bad values
// with a clear message, and a short real run (3 peer processes next to one busy process) counts
// every task done and its runs from the peers' own status, not made up.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-child.js';
import { parseStarvedArgs } from '../src/starved.js';

const MAIN = fileURLToPath(new URL('../dist/starved.js', import.meta.url));

describe('bench:starved flags', () => {
  it('has defaults and reads every flag', () => {
    expect(parseStarvedArgs([])).toMatchObject({ runs: 5, hogs: 2, tasks: 20_000, keep: undefined, logLevel: 'warn', json: false });
    expect(parseStarvedArgs(['--', '--runs', '3', '--hogs', '0', '--tasks', '1500', '--keep', '/tmp/k', '--log-level', 'info', '--json', '--peer-node-args', '--cpu-prof'])).toMatchObject({
      runs: 3,
      hogs: 0,
      tasks: 1500,
      keep: '/tmp/k',
      logLevel: 'info',
      json: true,
      peerNodeArgs: ['--cpu-prof'],
    });
    expect(parseStarvedArgs(['--help'])).toBe('help');
  });

  it('refuses bad values by name', () => {
    expect(() => parseStarvedArgs(['--tasks', '1200'])).toThrow(/--tasks must be a multiple of 500, got 1200/);
    expect(() => parseStarvedArgs(['--runs', '0'])).toThrow(/--runs must be an integer in 1\.\.100/);
    expect(() => parseStarvedArgs(['--hogs', 'many'])).toThrow(/--hogs must be an integer in 0\.\.16/);
    expect(() => parseStarvedArgs(['--keep'])).toThrow(/--keep needs a value/);
    expect(() => parseStarvedArgs(['--log-level', 'loud'])).toThrow(/--log-level must be one of error, warn, info, debug, got "loud"/);
    expect(() => parseStarvedArgs(['--faults'])).toThrow(/unknown flag "--faults"/);
  });

  it('exits 2 with the message on a bad flag', async () => {
    const bad = await runScript(MAIN, ['--tasks', '700'], 20_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bench:starved: --tasks must be a multiple of 500/);
  });
});

describe('bench:starved, one short run', () => {
  it('runs 5,000 tasks on 3 peers next to a busy process and reports them from the peers', async () => {
    const r = await runScript(MAIN, ['--runs', '1', '--hogs', '1', '--tasks', '5000', '--json'], 110_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toMatch(/^run 1: 5000 done in [\d.]+ s, generation \d+; duplicate runs \d+, extra runs -?\d+, lease expiries \d+/);
    const j = JSON.parse(out.at(-1)!) as { hogs: number; tasks: number; duplicateRuns: number; restores: number; runs: { done: number; extraRuns: number; duplicateRuns: number; fewestAlive: number; generations: number; restores: number }[] };
    expect(j).toMatchObject({ hogs: 1, tasks: 5000 });
    expect(j.runs).toHaveLength(1);
    const run = j.runs[0]!;
    expect(run.done).toBe(5000);
    // A run ends for every task; a run no task needed shows as a duplicate run too.
    expect(run.extraRuns).toBeGreaterThanOrEqual(0);
    expect(run.duplicateRuns).toBeLessThanOrEqual(run.extraRuns);
    expect(run.fewestAlive).toBeGreaterThanOrEqual(1);
    // Whether a generation starts (or a task is restored) in so short a run depends on timing: the
    // line and the JSON say the same, and the totals are the run's own.
    expect(out[0]).toContain(`generation ${run.generations};`);
    expect(out[0]).toContain(`tasks restored ${run.restores},`);
    expect(j.duplicateRuns).toBe(run.duplicateRuns);
    expect(j.restores).toBe(run.restores);
  }, 120_000);
});
