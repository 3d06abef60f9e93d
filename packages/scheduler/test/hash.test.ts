// Tests for hash.ts: hash32 matches MurmurHash3_x86_32 over UTF-16LE bytes, unitHash stays strictly
// inside (0, 1), the seeded Rng is reproducible, and validateSeed accepts only plain integer seeds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMeshError } from '../src/errors.js';
import { createRng, hash32, unitHash, validateSeed } from '../src/hash.js';

/** Straightforward byte-wise MurmurHash3_x86_32, the reference hash32 must agree with. */
function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  const mixK = (k: number): number => {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, 0x1b873593);
  };
  for (let i = 0; i < blocks; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h ^= mixK(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[blocks + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[blocks + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[blocks]!;
      h ^= mixK(k);
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function utf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >>> 8;
  }
  return out;
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Any UTF-16 code units, lone surrogates included. */
const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });

describe('hash32', () => {
  it('reference implementation matches published MurmurHash3_x86_32 vectors', () => {
    expect(murmur3Bytes(ascii(''), 0)).toBe(0);
    expect(murmur3Bytes(ascii(''), 1)).toBe(0x514e28b7);
    expect(murmur3Bytes(ascii(''), 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3Bytes(new Uint8Array(4), 0)).toBe(0x2362f9de);
    expect(murmur3Bytes(ascii('test'), 0)).toBe(0xba6bd213);
    expect(murmur3Bytes(ascii('aaaa'), 0x9747b28c)).toBe(0x5a97808a);
    expect(murmur3Bytes(ascii('Hello, world!'), 0x9747b28c)).toBe(0x24884cba);
    expect(murmur3Bytes(ascii('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd);
  });

  it('equals MurmurHash3_x86_32 of the UTF-16LE bytes', () => {
    fc.assert(
      fc.property(anyUnits, fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
        expect(hash32(s, seed)).toBe(murmur3Bytes(utf16le(s), seed));
      }),
    );
  });

  it('is an unsigned 32-bit integer, deterministic, seed 0 by default', () => {
    fc.assert(
      fc.property(anyUnits, (s) => {
        const h = hash32(s);
        expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
        expect(hash32(s)).toBe(h);
        expect(hash32(s, 0)).toBe(h);
      }),
    );
  });

  it('spreads keys evenly and depends on the seed', () => {
    const buckets = new Array<number>(16).fill(0);
    let sameAcrossSeeds = 0;
    for (let i = 0; i < 16_000; i++) {
      const h = hash32(`task-${i}`);
      buckets[h >>> 28]!++;
      if (hash32(`task-${i}`, 1) === h) sameAcrossSeeds++;
    }
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(150);
    expect(sameAcrossSeeds).toBe(0);
  });
});

describe('unitHash', () => {
  const part = fc.oneof(anyUnits, fc.double(), fc.integer());

  it('is strictly inside (0, 1) with 53-bit resolution for every input', () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 5 }), (parts) => {
        const u = unitHash(...parts);
        expect(u).toBeGreaterThan(0);
        expect(u).toBeLessThan(1);
        const scaled = u * 2 ** 53; // exact: an odd integer below 2^53
        expect(Number.isInteger(scaled) && scaled % 2 === 1).toBe(true);
        expect(unitHash(...parts)).toBe(u);
      }),
      { numRuns: 500 },
    );
  });

  it('joins parts with NUL and stringifies numbers', () => {
    expect(unitHash('a', 'b')).not.toBe(unitHash('ab'));
    expect(unitHash('a', 'b')).toBe(unitHash('a\u0000b'));
    expect(unitHash(1, 2.5, 'x')).toBe(unitHash('1', '2.5', 'x'));
    expect(unitHash('t', 1, 'p')).not.toBe(unitHash('t', 2, 'p'));
  });

  it('is roughly uniform', () => {
    let sum = 0;
    let low = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const u = unitHash('task', i, 'peer');
      sum += u;
      if (u < 0.1) low++;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(low / n - 0.1)).toBeLessThan(0.01);
  });
});

describe('createRng', () => {
  const draw = (seed: number, n: number): number[] => {
    const r = createRng(seed);
    return Array.from({ length: n }, () => r.next());
  };

  it('gives the same sequence for the same seed and another for another seed', () => {
    expect(draw(42, 100)).toEqual(draw(42, 100));
    expect(draw(42, 100)).not.toEqual(draw(43, 100));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (seed) => {
        const xs = draw(seed, 20);
        expect(draw(seed, 20)).toEqual(xs);
        for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
      }),
    );
  });

  it('int covers [min, max] inclusively and rejects bad ranges', () => {
    const r = createRng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.int(-3, 3);
      expect(Number.isInteger(v) && v >= -3 && v <= 3).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(7);
    expect(r.int(5, 5)).toBe(5);
    const big = r.int(0, Number.MAX_SAFE_INTEGER);
    expect(Number.isSafeInteger(big) && big >= 0).toBe(true);
    for (const [a, b] of [[3, 2], [0.5, 2], [0, Infinity], [NaN, 1]] as const) {
      expect(() => r.int(a, b)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('chance follows p', () => {
    const r = createRng(1);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (r.chance(0.3)) hits++;
    expect(Math.abs(hits / 10_000 - 0.3)).toBeLessThan(0.02);
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    expect(r.chance(-1)).toBe(false);
    expect(() => r.chance(NaN)).toThrow();
  });

  it('pick chooses an item, and throws INVALID_ARGUMENT on an empty array', () => {
    const r = createRng(3);
    const items = ['a', 'b', 'c'] as const;
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(r.pick(items));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
    try {
      r.pick([]);
      expect.unreachable();
    } catch (e) {
      expect(isMeshError(e, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('shuffle returns a permuted copy and leaves the input alone', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.nat(), (xs, seed) => {
        const before = xs.slice();
        const out = createRng(seed).shuffle(xs);
        expect(xs).toEqual(before);
        expect(out).not.toBe(xs);
        expect(out.slice().sort((a, b) => a - b)).toEqual(before.sort((a, b) => a - b));
        expect(createRng(seed).shuffle(xs)).toEqual(out);
      }),
    );
    const moved = createRng(9).shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect(moved).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('fork gives deterministic streams, independent of the parent and of each other', () => {
    const a = createRng(5);
    const fa = a.fork('x');
    const b = createRng(5);
    for (let i = 0; i < 10; i++) b.next(); // parent draws do not change the fork
    const fb = b.fork('x');
    const xs = Array.from({ length: 10 }, () => fa.next());
    expect(Array.from({ length: 10 }, () => fb.next())).toEqual(xs);
    const fy = createRng(5).fork('y');
    expect(Array.from({ length: 10 }, () => fy.next())).not.toEqual(xs);
    expect(draw(5, 10)).not.toEqual(xs);
    const nested = createRng(5).fork('x').fork('x');
    expect(Array.from({ length: 10 }, () => nested.next())).not.toEqual(xs);
  });
});

describe('validateSeed', () => {
  it('accepts safe non-negative integers and plain decimal strings', () => {
    expect(validateSeed(0)).toBe(0);
    expect(Object.is(validateSeed(-0), 0)).toBe(true);
    expect(validateSeed(42)).toBe(42);
    expect(validateSeed(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(validateSeed('123')).toBe(123);
    expect(validateSeed('007')).toBe(7);
    expect(validateSeed(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects everything else with INVALID_ARGUMENT and a clear message', () => {
    const bad: unknown[] = [
      -1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1, 2 ** 60,
      '', ' 1', '1 ', '-1', '+1', '1e3', '1.0', '0x10', 'abc', '9007199254740992',
      null, undefined, {}, [], true, 10n,
    ];
    for (const x of bad) {
      let err: unknown;
      try {
        validateSeed(x);
      } catch (e) {
        err = e;
      }
      expect(isMeshError(err, 'INVALID_ARGUMENT'), String(x)).toBe(true);
      expect((err as Error).message).toMatch(/seed/);
    }
  });
});
