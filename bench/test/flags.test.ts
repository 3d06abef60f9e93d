// The bench's flag reader (bench/src/flags.ts): values, integer ranges, and the errors that name the flag.
import { describe, expect, it } from 'vitest';
import { FlagReader } from '../src/flags.js';

describe('FlagReader', () => {
  it('reads flags, their values and integers in order', () => {
    const f = new FlagReader(['--peers', '5', '--out', 'x.json', '--rates', '10,20', '--keep']);
    expect(f.next()).toBe('--peers');
    expect(f.int(1, 30)).toBe(5);
    expect(f.next()).toBe('--out');
    expect(f.value()).toBe('x.json');
    expect(f.next()).toBe('--rates');
    expect(f.value().split(',').map((r) => f.int(1, 100, r))).toEqual([10, 20]);
    expect(f.next()).toBe('--keep');
    expect(f.next()).toBeUndefined();
  });

  it('names the flag when its value is missing, out of range or not an integer', () => {
    const missing = new FlagReader(['--seconds']);
    missing.next();
    expect(() => missing.value()).toThrow('--seconds needs a value');
    for (const bad of ['0', '31', '2.5', '', ' ', 'ten', '1e3']) {
      const f = new FlagReader(['--peers', bad]);
      f.next();
      expect(() => f.int(1, 30)).toThrow(`--peers must be an integer in 1..30, got ${JSON.stringify(bad)}`);
    }
  });
});
