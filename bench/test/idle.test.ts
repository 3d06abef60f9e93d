// Why: bench:idle is a tool others script against (its JSON line): its flags refuse bad values with
// a clear message, and a short real run (3 peer processes, one short window) prints a point whose
// figures are measured from the peers' own CPU time, not made up.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-child.js';
import { parseIdleArgs } from '../src/idle.js';

const MAIN = fileURLToPath(new URL('../dist/idle.js', import.meta.url));

const run = (args: string[], ms: number) => runScript(MAIN, args, ms);

describe('bench:idle flags', () => {
  it('has defaults and reads every flag', () => {
    expect(parseIdleArgs([])).toMatchObject({ peers: [3, 15], seconds: 10, windows: 3, settle: 15, json: false });
    expect(parseIdleArgs(['--', '--peers', '3,30', '--seconds', '5', '--windows', '2', '--settle', '0', '--json', '--peer-node-args', '--cpu-prof'])).toMatchObject({
      peers: [3, 30],
      seconds: 5,
      windows: 2,
      settle: 0,
      json: true,
      peerNodeArgs: ['--cpu-prof'],
    });
    expect(parseIdleArgs(['-h'])).toBe('help');
  });

  it('refuses bad values by name', () => {
    expect(() => parseIdleArgs(['--peers', '3,31'])).toThrow(/--peers must be an integer in 1\.\.30, got "31"/);
    expect(() => parseIdleArgs(['--seconds', '0'])).toThrow(/--seconds must be an integer in 1\.\.600/);
    expect(() => parseIdleArgs(['--windows'])).toThrow(/--windows needs a value/);
    expect(() => parseIdleArgs(['--busy'])).toThrow(/unknown flag "--busy"/);
  });

  it('exits 2 with the message on a bad flag', async () => {
    const bad = await run(['--settle', 'later'], 20_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bench:idle: --settle must be an integer/);
  });
});

describe('bench:idle run', () => {
  it('measures an idle 3-peer mesh and prints its point as JSON', async () => {
    const r = await run(['--peers', '3', '--seconds', '2', '--windows', '2', '--settle', '1', '--json'], 120_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { points: { peers: number; cores: number[]; meanCores: number; perPeerCores: number }[] };
    expect(j.points).toHaveLength(1);
    const p = j.points[0]!;
    expect(p.peers).toBe(3);
    expect(p.cores).toHaveLength(2);
    // Three live processes use some CPU, and an idle mesh far less than the machine's two cores.
    expect(p.meanCores).toBeGreaterThan(0);
    expect(p.meanCores).toBeLessThan(1);
    expect(p.perPeerCores).toBeCloseTo(p.meanCores / 3, 3);
    expect(r.stdout).toMatch(/3 peers idle: [\d.]+ cores \([\d.]+ per peer; windows [\d.]+ \/ [\d.]+\)/);
  });
});
