// Retry backoff for failed task runs. Exponential with deterministic jitter: the jitter comes from
// a hash of (seed, task, attempt), so every peer computes the same delay for the same retry and a
// crowd of failed tasks still spreads out instead of retrying in lockstep.
import { MeshError } from './errors.js';
import { unitHash } from './hash.js';

export interface BackoffPolicy {
  /** Delay after the first failure, ms. */
  baseMs: number;
  /** Growth per further failure, >= 1. */
  factor: number;
  /** Cap on the delay before jitter, ms. */
  maxMs: number;
  /** Fraction of the delay that is randomised away, 0..1 (0 = no jitter). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 200, factor: 2, maxMs: 30_000, jitter: 0.2 });

/** Checks a policy: baseMs and maxMs finite >= 0, factor finite >= 1, jitter in [0, 1]. */
export function validateBackoff(x: unknown): BackoffPolicy {
  if (typeof x !== 'object' || x === null) {
    throw new MeshError('INVALID_ARGUMENT', 'backoff policy must be an object { baseMs, factor, maxMs, jitter }');
  }
  const r = x as Record<string, unknown>;
  const check = (k: string, ok: (v: number) => boolean, want: string): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new MeshError('INVALID_ARGUMENT', `backoff ${k} must be ${want}, got ${String(v)}`, { field: k });
    }
    return v;
  };
  return {
    baseMs: check('baseMs', (v) => v >= 0, 'a finite number >= 0'),
    factor: check('factor', (v) => v >= 1, 'a finite number >= 1'),
    maxMs: check('maxMs', (v) => v >= 0, 'a finite number >= 0'),
    jitter: check('jitter', (v) => v >= 0 && v <= 1, 'a number from 0 to 1'),
  };
}

/**
 * Delay in whole ms before retrying after `failedAttempts` failures (0 when failedAttempts < 1):
 * d = min(maxMs, baseMs * factor^(failedAttempts - 1)), result = d * (1 - jitter + jitter * u)
 * with u = unitHash(seed, taskId, failedAttempts), rounded, and never above floor(d).
 */
export function retryDelay(failedAttempts: number, policy: BackoffPolicy, seed: number, taskId: string): number {
  if (!(failedAttempts >= 1)) return 0;
  const d = Math.min(policy.maxMs, policy.baseMs * Math.pow(policy.factor, failedAttempts - 1));
  const j = policy.jitter;
  const raw = d * (1 - j + j * unitHash(seed, taskId, failedAttempts));
  return Math.max(0, Math.min(Math.round(raw), Math.floor(d)));
}

/** True while another attempt is allowed. */
export function hasAttemptsLeft(failedAttempts: number, maxAttempts: number): boolean {
  return failedAttempts < maxAttempts;
}
