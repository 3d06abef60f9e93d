// Why: bench:sustained is a tool others script against (its JSON line): its flags refuse bad
// values with a clear message, and a short real run (3 peer processes, one rate, a few seconds)
// prints a point whose figures are measured, not made up.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-child.js';
import { parseSustainedArgs } from '../src/sustained.js';

const MAIN = fileURLToPath(new URL('../dist/sustained.js', import.meta.url));

const run = (args: string[], ms: number) => runScript(MAIN, args, ms);

describe('bench:sustained flags', () => {
  it('has defaults and reads every flag', () => {
    expect(parseSustainedArgs([])).toMatchObject({ rates: [1000, 2000], seconds: 30, peers: 3, concurrency: 50, logSlowMs: undefined, probeGapMs: 20, json: false, peerArgs: [] });
    expect(
      parseSustainedArgs(['--', '--rates', '500,1500', '--seconds', '5', '--peers', '4', '--concurrency', '500', '--log-slow', '25', '--probe-gap-ms', '0', '--json', '--peer-node-args', '--cpu-prof  --x', '--peer-args', '--max-finished 10000000']),
    ).toMatchObject({
      rates: [500, 1500],
      seconds: 5,
      peers: 4,
      concurrency: 500,
      logSlowMs: 25,
      probeGapMs: 0,
      json: true,
      peerNodeArgs: ['--cpu-prof', '--x'],
      peerArgs: ['--max-finished', '10000000'],
    });
    expect(parseSustainedArgs(['--help'])).toBe('help');
    expect(() => parseSustainedArgs(['--peer-args'])).toThrow(/--peer-args needs a value/);
  });

  it('refuses bad values by name', () => {
    expect(() => parseSustainedArgs(['--rates', '100,x'])).toThrow(/--rates must be an integer in 1\.\.100000, got "x"/);
    expect(() => parseSustainedArgs(['--rates', ''])).toThrow(/--rates must be an integer/);
    expect(() => parseSustainedArgs(['--seconds', '0'])).toThrow(/--seconds must be an integer in 1\.\.3600/);
    expect(() => parseSustainedArgs(['--peers'])).toThrow(/--peers needs a value/);
    expect(() => parseSustainedArgs(['--fast'])).toThrow(/unknown flag "--fast"/);
    expect(() => parseSustainedArgs(['--concurrency', '0'])).toThrow(/--concurrency must be an integer in 1\.\.100000/);
    expect(() => parseSustainedArgs(['--log-slow', '-1'])).toThrow(/--log-slow must be an integer in 0\.\.600000/);
  });

  it('exits 2 with the message on a bad flag, and prints its help', async () => {
    const bad = await run(['--seconds', 'soon'], 20_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bench:sustained: --seconds must be an integer/);
    const help = await run(['--help'], 20_000);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--rates A,B/);
  });
});

describe('bench:sustained run', () => {
  it('measures one rate on real peers and prints its point as JSON', async () => {
    // --log-slow 0 logs every probe: each line names its peer and wall time.
    const r = await run(['--rates', '300', '--seconds', '3', '--log-slow', '0', '--json'], 100_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const j = JSON.parse(last) as { peers: number; points: { rate: number; offered: number; done: number; throughput: number; cpuMsPerTask: number | null; probes: number; p50Ms: number; p99Ms: number; messagesPerPeerSecond: number | null; tasksPerMessage: number | null }[] };
    expect(j.peers).toBe(3);
    expect(j.points).toHaveLength(1);
    const p = j.points[0]!;
    expect(p.rate).toBe(300);
    // Offered close to the rate, and the peers did that work (the probes' own tasks included).
    expect(p.offered).toBeGreaterThan(150);
    expect(p.offered).toBeLessThan(450);
    expect(p.done).toBeGreaterThan(300);
    expect(p.cpuMsPerTask).toBeGreaterThan(0);
    expect(p.probes).toBeGreaterThan(5);
    expect(p.p99Ms).toBeGreaterThanOrEqual(p.p50Ms);
    // The peers' own sync counters: messages went out, and each carried some of the tasks done.
    expect(p.messagesPerPeerSecond).toBeGreaterThan(0);
    expect(p.tasksPerMessage).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/probe \d+ to P\d at \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+\) took \d+ ms/);
    expect(r.stdout).toMatch(/offered [\d.]+\/s: done [\d.]+\/s, CPU [\d.]+ ms per task.*; [\d.]+ sync messages sent per peer per s, [\d.]+ tasks per message/);
  });
});
