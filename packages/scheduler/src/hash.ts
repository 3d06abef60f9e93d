// Deterministic hashing and seeded randomness. Every peer must reach the same decision from
// the same data, so scheduling never calls Math.random: tie-breaks, jitter and simulations
// draw from these pure functions of strings and seeds instead.
import { MeshError } from './errors.js';

/**
 * MurmurHash3 (x86, 32-bit) over the string's UTF-16 code units, two units per block.
 * Equal to MurmurHash3_x86_32 of the string's UTF-16LE bytes. Returns an unsigned 32-bit integer.
 */
export function hash32(s: string, seed = 0): number {
  let h = seed >>> 0;
  const len = s.length;
  const end = len & ~1;
  let k: number;
  for (let i = 0; i < end; i += 2) {
    k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (len & 1) {
    k = s.charCodeAt(end);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len * 2; // length in bytes
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEED_A = 0x9e3779b9;
const SEED_B = 0x7f4a7c15;
const TWO_POW_27 = 2 ** 27;
const TWO_POW_53 = 2 ** 53;

/**
 * A value strictly inside (0, 1) from the parts joined with '\u0000' (numbers stringified).
 * 52 bits come from two independently seeded hash32 calls; the result is (2x + 1) / 2^53,
 * an exact double, so it is never 0 and never 1.
 */
export function unitHash(...parts: (string | number)[]): number {
  const key = parts.join('\u0000');
  const hi = hash32(key, SEED_A) >>> 6; // 26 bits
  const lo = hash32(key, SEED_B) >>> 6; // 26 bits
  return (hi * TWO_POW_27 + lo * 2 + 1) / TWO_POW_53;
}

/** A deterministic pseudo-random stream. */
export interface Rng {
  /** Uniform in [0, 1), 32-bit resolution. */
  next(): number;
  /** Uniform integer in [min, maxInclusive]; both must be safe integers with min <= maxInclusive. */
  int(min: number, maxInclusive: number): number;
  /** True with probability p (p <= 0 never, p >= 1 always). Always consumes one draw. */
  chance(p: number): boolean;
  /** A uniformly chosen item; throws MeshError('INVALID_ARGUMENT') for an empty array. */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher-Yates); the input is not changed. */
  shuffle<T>(items: readonly T[]): T[];
  /**
   * An independent stream derived from this stream's seed and `label` only, so it does not
   * depend on how many values the parent has drawn. The same label gives the same stream.
   */
  fork(label: string): Rng;
}

const TWO_POW_32 = 2 ** 32;

function rngFromKey(key: string): Rng {
  // sfc32, state seeded through hash32 of the key.
  let a = hash32(key, 0x243f6a88);
  let b = hash32(key, 0x85a308d3);
  let c = hash32(key, 0x13198a2e);
  let d = 1;
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = (): number => u32() / TWO_POW_32;

  return {
    next,
    int(min, maxInclusive) {
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(maxInclusive) || min > maxInclusive) {
        throw new MeshError('INVALID_ARGUMENT', `rng.int needs safe integers min <= max, got ${min}, ${maxInclusive}`);
      }
      const span = maxInclusive - min + 1;
      // Above 2^32 values, use 53 bits so every integer in the range is reachable.
      const u = span <= TWO_POW_32 ? next() : (u32() * 2 ** 21 + (u32() >>> 11)) / TWO_POW_53;
      return Math.min(maxInclusive, min + Math.floor(u * span));
    },
    chance(p) {
      if (Number.isNaN(p)) throw new MeshError('INVALID_ARGUMENT', 'rng.chance needs a probability, got NaN');
      return next() < p;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new MeshError('INVALID_ARGUMENT', 'rng.pick of an empty array');
      return items[Math.floor(next() * items.length)] as T;
    },
    shuffle<T>(items: readonly T[]): T[] {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = out[i] as T;
        out[i] = out[j] as T;
        out[j] = tmp;
      }
      return out;
    },
    fork(label) {
      return rngFromKey(key + '\u0000' + label);
    },
  };
}

/** A deterministic stream: the same seed always gives the same sequence. */
export function createRng(seed: number): Rng {
  return rngFromKey(String(seed));
}

/**
 * A seed from user input: a safe integer >= 0, or a string of plain decimal digits.
 * Throws MeshError('INVALID_ARGUMENT') for anything else.
 */
export function validateSeed(x: unknown): number {
  let n: number;
  if (typeof x === 'number') {
    n = x;
  } else if (typeof x === 'string' && /^[0-9]+$/.test(x)) {
    n = Number(x);
  } else {
    throw new MeshError('INVALID_ARGUMENT', `seed must be a non-negative integer, got ${describe(x)}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MeshError('INVALID_ARGUMENT', `seed must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describe(x)}`);
  }
  return n + 0; // -0 becomes 0
}

function describe(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? x.slice(0, 40) + '…' : x);
  if (typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean') return String(x);
  return x === null ? 'null' : typeof x;
}
