// The registry of built-in agents and the utility agents echo, sleep and fail.
import { describe, expect, it } from 'vitest';
import { isMeshError } from '@agentmesh/scheduler';
import { agentDefinition } from '../src/contract.js';
import { BUILTIN_AGENT_NAMES, builtinAgents } from '../src/index.js';
import { fakeContext, runAgent } from './context.js';

describe('builtinAgents', () => {
  it('registers every built-in agent and no llm without configuration', () => {
    const reg = builtinAgents();
    expect(Object.keys(reg).sort()).toEqual([...BUILTIN_AGENT_NAMES].sort());
    expect(BUILTIN_AGENT_NAMES).not.toContain('llm');
    for (const name of BUILTIN_AGENT_NAMES) expect(typeof agentDefinition(reg[name]!).run).toBe('function');
  });

  it('registers llm when configured and rejects a bad configuration', () => {
    expect(Object.keys(builtinAgents({ llm: { url: 'http://127.0.0.1:1/v1', model: 'm' } }))).toContain('llm');
    for (const llm of [{ url: 'not a url', model: 'm' }, { url: 'ftp://x/v1', model: 'm' }, { url: 'http://x/v1', model: '' }]) {
      let err: unknown;
      try {
        builtinAgents({ llm });
      } catch (e) {
        err = e;
      }
      expect(isMeshError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect((err as Error).message).toMatch(/^llm: config\.(url|model)/);
    }
  });

  it('returns a fresh registry each time', () => {
    const a = builtinAgents();
    delete a.echo;
    expect(builtinAgents().echo).toBeDefined();
  });
});

describe('echo', () => {
  it('returns its payload unchanged', async () => {
    const payload = { a: [1, 2], b: 'x' };
    expect((await runAgent('echo', payload)).result).toBe(payload);
    expect((await runAgent('echo', 42)).result).toBe(42);
    expect((await runAgent('echo', null)).result).toBe(null);
  });
});

describe('sleep', () => {
  it('waits the given time and reports it', async () => {
    const t0 = Date.now();
    const { result } = await runAgent('sleep', { ms: 30 });
    expect(result).toEqual({ slept: 30 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect((await runAgent('sleep', { ms: 0 })).result).toEqual({ slept: 0 });
  });

  it.each([
    [undefined, 'sleep: payload must be an object (got missing)'],
    [{}, 'sleep: payload.ms must be a finite number in 0..600000 (got missing)'],
    [{ ms: -1 }, 'sleep: payload.ms must be a finite number in 0..600000 (got -1)'],
    [{ ms: 600_001 }, 'sleep: payload.ms must be a finite number in 0..600000 (got 600001)'],
    [{ ms: Number.NaN }, 'sleep: payload.ms must be a finite number in 0..600000 (got NaN)'],
    [{ ms: '10' }, 'sleep: payload.ms must be a finite number in 0..600000 (got "10")'],
  ])('rejects %j', async (payload, message) => {
    const err = await runAgent('sleep', payload).catch((e: unknown) => e);
    expect(isMeshError(err, 'INVALID_TASK')).toBe(true);
    expect((err as Error).message).toBe(message);
  });

  it('stops waiting when the signal aborts', async () => {
    const { ctx, controller } = fakeContext({ type: 'sleep' });
    const reason = new Error('cancelled by test');
    const t0 = Date.now();
    const run = agentDefinition(builtinAgents().sleep!).run({ ms: 60_000 }, ctx);
    setTimeout(() => controller.abort(reason), 20);
    await expect(run).rejects.toBe(reason);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe('fail', () => {
  const attempt = (payload: unknown, n: number) => runAgent('fail', payload, { attempt: n });

  it('fails the first attempt by default, then succeeds', async () => {
    await expect(attempt(undefined, 1)).rejects.toThrow('fail: deliberate failure on attempt 1 (this task fails its first 1)');
    await expect(attempt({}, 1)).rejects.toThrow(/attempt 1/);
    expect((await attempt({}, 2)).result).toEqual({ attempts: 2 });
  });

  it('fails exactly the first `times` attempts', async () => {
    for (let n = 1; n <= 3; n++) await expect(attempt({ times: 3 }, n)).rejects.toThrow(`attempt ${n} `);
    expect((await attempt({ times: 3 }, 4)).result).toEqual({ attempts: 4 });
    expect((await attempt({ times: 3 }, 7)).result).toEqual({ attempts: 7 });
    expect((await attempt({ times: 0 }, 1)).result).toEqual({ attempts: 1 });
  });

  it('is not an invalid-task error when it fails on purpose', async () => {
    const err = await attempt({ times: 1 }, 1).catch((e: unknown) => e);
    expect(isMeshError(err)).toBe(false);
  });

  it.each([[{ times: -1 }], [{ times: 1.5 }], [{ times: '2' }], [{ times: Number.NaN }], ['twice']])('rejects %j', async (payload) => {
    const err = await attempt(payload, 1).catch((e: unknown) => e);
    expect(isMeshError(err, 'INVALID_TASK')).toBe(true);
    expect((err as Error).message).toMatch(/^fail: payload(\.times)? must be/);
  });
});
