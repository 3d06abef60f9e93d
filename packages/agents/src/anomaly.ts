// The `factory.anomaly` agent and its pure scoring: a rolling median / MAD (median absolute
// deviation) over a trailing window, giving each sensor reading an Iglewicz-Hoaglin modified
// z-score. Median and MAD ignore a few wild readings, so one spike cannot hide itself or the next.
import { MeshError } from '@agentmesh/scheduler';
import type { AgentContext, AgentDefinition } from './contract.js';
import { PayloadReader, round } from './validate.js';

export const MAX_WINDOW = 256;
/** 0.6745 = the 0.75 quantile of the standard normal: MAD / 0.6745 estimates sigma. */
export const MAD_FACTOR = 0.6745;
/** sqrt(pi / 2): mean absolute deviation * 1.253314 estimates sigma (the fallback when MAD is 0). */
export const MEAN_AD_FACTOR = 1.253314;

export type MachineStatus = 'ok' | 'warn' | 'alarm';

export interface AnomalyScores {
  /** Modified z-score per reading (signed, 3 decimals), 0 for the first window - 1 readings. */
  scores: number[];
  /** Indices whose |score| exceeds the threshold. */
  anomalies: number[];
  /** Largest |score| (3 decimals). */
  maxScore: number;
  status: MachineStatus;
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ascending = (a: number, b: number) => a - b;

/**
 * Modified z-score of the last value of `w` against all of `w`:
 *   z = 0.6745 * (x - median) / MAD,
 * or, when MAD is 0 (over half the window identical), z = (x - median) / (1.253314 * meanAD),
 * and z = 0 when every value equals the median.
 */
export function modifiedZ(w: readonly number[]): number {
  if (w.length === 0) throw new MeshError('INVALID_ARGUMENT', 'modifiedZ: the window is empty');
  const x = w[w.length - 1]!;
  const med = median([...w].sort(ascending));
  const dev = w.map((v) => Math.abs(v - med));
  const mad = median([...dev].sort(ascending));
  if (mad > 0) return (MAD_FACTOR * (x - med)) / mad;
  const meanAd = dev.reduce((a, b) => a + b, 0) / dev.length;
  return meanAd > 0 ? (x - med) / (MEAN_AD_FACTOR * meanAd) : 0;
}

/**
 * Scores every reading against the trailing window of `window` readings ending at it (itself
 * included, as in the textbook modified z-score); the first window - 1 readings are warm-up and
 * score 0. A reading is an anomaly when |z| > threshold; status is 'alarm' if any is, 'warn' if
 * any |z| > threshold / 2, else 'ok'.
 */
export function robustAnomalyScores(
  readings: readonly number[],
  window = 8,
  threshold = 3.5,
  opts: { onStep?: (done: number, total: number) => void } = {},
): AnomalyScores {
  const r = new PayloadReader('robustAnomalyScores', { readings, window, threshold }, 'INVALID_ARGUMENT', '');
  r.numberArray('readings', { minLength: 3 });
  r.number('window', { min: 3, max: Math.min(MAX_WINDOW, readings.length), integer: true });
  r.number('threshold', { positive: true });
  const n = readings.length;
  const raw = new Array<number>(n).fill(0);
  const stride = Math.max(1, Math.ceil(n / 10));
  for (let i = window - 1; i < n; i++) {
    raw[i] = modifiedZ(readings.slice(i - window + 1, i + 1));
    if ((i + 1) % stride === 0) opts.onStep?.(i + 1, n);
  }
  opts.onStep?.(n, n);
  const anomalies: number[] = [];
  let max = 0;
  raw.forEach((z, i) => {
    if (Math.abs(z) > threshold) anomalies.push(i);
    max = Math.max(max, Math.abs(z));
  });
  const status: MachineStatus = anomalies.length > 0 ? 'alarm' : max > threshold / 2 ? 'warn' : 'ok';
  return { scores: raw.map((z) => round(z, 3)), anomalies, maxScore: round(max, 3), status };
}

export interface FactoryAnomalyInput {
  machine: string;
  /** Sensor readings, oldest first, at least 8. */
  readings: number[];
  window?: number;
  threshold?: number;
}

export interface FactoryAnomalyResult extends AnomalyScores {
  machine: string;
}

/** Checks a factory.anomaly payload; throws MeshError('INVALID_TASK') naming the bad field. */
export function parseFactoryAnomaly(payload: unknown): Required<FactoryAnomalyInput> {
  const r = new PayloadReader('factory.anomaly', payload);
  const machine = r.string('machine');
  const readings = r.numberArray('readings', { minLength: 8 });
  const window = r.optionalNumber('window', { min: 3, max: Math.min(MAX_WINDOW, readings.length), integer: true }) ?? 8;
  const threshold = r.optionalNumber('threshold', { positive: true, max: 1000 }) ?? 3.5;
  return { machine, readings, window, threshold };
}

/** The whole factory.anomaly computation for a checked or unchecked input. */
export function factoryAnomaly(
  input: FactoryAnomalyInput,
  opts: { onStep?: (done: number, total: number) => void } = {},
): FactoryAnomalyResult {
  const p = parseFactoryAnomaly(input);
  return { machine: p.machine, ...robustAnomalyScores(p.readings, p.window, p.threshold, opts) };
}

export const factoryAnomalyAgent: AgentDefinition = {
  description: 'Scores machine sensor readings with a rolling median/MAD modified z-score.',
  run: (payload: unknown, ctx: AgentContext) => {
    const input = parseFactoryAnomaly(payload);
    ctx.progress(5, 'payload checked');
    const result = factoryAnomaly(input, {
      onStep: (done, total) => {
        if (ctx.signal.aborted) throw ctx.signal.reason ?? new MeshError('ABORTED', 'aborted');
        ctx.progress(5 + Math.round((90 * done) / total), `scored ${done}/${total} readings`);
      },
    });
    ctx.data.put(`status/${result.machine}`, { status: result.status, maxScore: result.maxScore, at: ctx.now() });
    ctx.progress(100, `status ${result.status}`);
    return result;
  },
};
