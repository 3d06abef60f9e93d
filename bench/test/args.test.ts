// Where the bench tools write their results (bench/src/args.ts, bench/src/bounded.ts): only a full,
// default run writes bench/results/latest.* or results/bounded.json; a run narrowed by any flag goes
// to bench/results/partial unless --out says where.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseArgs } from '../src/args.js';

describe('bench results directory', () => {
  it('is results/ for a full default run and results/partial for any narrowed one', () => {
    const full = parseArgs([]).outDir;
    expect(full.endsWith(join('bench', 'results')) || full.endsWith('results')).toBe(true);
    expect(parseArgs(['--']).outDir).toBe(full);
    for (const argv of [['--only', 'scale'], ['--no-bullmq'], ['--quick'], ['--scale', '30'], ['--tasks', '100'], ['--peer-node-args', '--cpu-prof --cpu-prof-dir=/tmp/p']]) {
      expect(parseArgs(argv).outDir, argv.join(' ')).toBe(join(full, 'partial'));
    }
  });

  it('goes where --out says, whatever else is given', () => {
    expect(parseArgs(['--out', '/tmp/x']).outDir).toBe('/tmp/x');
    expect(parseArgs(['--only', 'heal', '--out', '/tmp/y']).outDir).toBe('/tmp/y');
  });
});

describe('--log-slow', () => {
  it('is off by default, takes a positive number of ms, and makes the run a partial one', () => {
    const full = parseArgs([]);
    expect(full.logSlowMs).toBeUndefined();
    const c = parseArgs(['--log-slow', '40']);
    expect(c.logSlowMs).toBe(40);
    expect(c.outDir).toBe(join(full.outDir, 'partial'));
    expect(() => parseArgs(['--log-slow', '0'])).toThrow(/--log-slow needs a positive integer/);
    expect(() => parseArgs(['--log-slow', 'fast'])).toThrow(/--log-slow needs a positive integer/);
  });
});

describe('bench:bounded results file', () => {
  it('is results/bounded.json for a full run (--keep allowed) and results/partial/bounded.json for a narrowed one, unless --out', async () => {
    const { parseBoundedArgs } = await import('../src/bounded.js');
    const full = parseBoundedArgs([]).out;
    expect(full.endsWith(join('results', 'bounded.json'))).toBe(true);
    expect(parseBoundedArgs(['--keep']).out).toBe(full);
    for (const argv of [['--tasks', '25000'], ['--peers', '5'], ['--peer-arg', '--max-finished'], ['--sample-ms', '1000']]) {
      expect(parseBoundedArgs(argv).out, argv.join(' ')).toBe(join(full, '..', 'partial', 'bounded.json'));
    }
    expect(parseBoundedArgs(['--tasks', '25000', '--out', '/tmp/b.json']).out).toBe('/tmp/b.json');
  });
});
