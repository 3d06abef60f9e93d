// The shared bounded poll: both shapes, their timeouts, and how each treats an exception.
import { describe, expect, it } from 'vitest';
import { makeUntil, until } from './helpers.js';

describe('until', () => {
  it('until(cond, ms, what) resolves with the time waited, and names what it waited for', async () => {
    let n = 0;
    const waited = await until(() => ++n >= 3, 1000, 'three polls');
    expect(n).toBe(3);
    expect(waited).toBeGreaterThanOrEqual(0);
    await expect(until(() => false, 30, 'nothing')).rejects.toThrow('timed out after 30 ms waiting for nothing');
    await expect(until(() => false, 30)).rejects.toThrow(/timed out after 30 ms/);
  });

  it('a synchronous condition that throws fails at once', async () => {
    const t = Date.now();
    await expect(
      until(() => {
        throw new Error('bug in the test');
      }, 5000),
    ).rejects.toThrow('bug in the test');
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('until(what, probe, ms) returns the first truthy value, retrying failures and naming the last one', async () => {
    let n = 0;
    const v = await until('a value', async () => {
      if (++n < 3) throw new Error('not yet');
      return { n };
    }, 1000);
    expect(v).toEqual({ n: 3 });
    expect(await until('a sync probe', () => 'ok', 100)).toBe('ok');
    await expect(until('the peer', async () => Promise.reject(new Error('ECONNREFUSED')), 30)).rejects.toThrow('timed out after 30 ms waiting for the peer: ECONNREFUSED');
    await expect(until('zero', () => 0, 30)).rejects.toThrow('timed out after 30 ms waiting for zero');
  });

  it('makeUntil gives a file its own default timeout and poll interval', async () => {
    const slow = makeUntil({ timeoutMs: 120, everyMs: 50 });
    let polls = 0;
    const t = Date.now();
    await expect(slow('never', () => ++polls > 1000)).rejects.toThrow('timed out after 120 ms');
    expect(Date.now() - t).toBeGreaterThanOrEqual(120);
    expect(polls).toBeLessThanOrEqual(5);
  });
});
