// factory.anomaly: rolling median / MAD modified z-scores, the MAD = 0 fallback, spike detection,
// status levels, payload validation, and the agent's shared-data write.
import { describe, expect, it } from 'vitest';
import { isMeshError } from '@agentmesh/scheduler';
import { factoryAnomaly, modifiedZ, robustAnomalyScores } from '../src/index.js';
import { NOW, runAgent } from './context.js';

// A vibration-like sensor around a steady operating point (deterministic, no randomness).
const vibration = Array.from({ length: 48 }, (_, i) => 2 + 0.2 * Math.sin(i * 1.3) + 0.1 * Math.cos(i * 0.7));

describe('modifiedZ', () => {
  it('matches hand-worked values', () => {
    // [1, 2, 3, 4, 100]: median 3; |deviations| 2, 1, 0, 1, 97 -> MAD 1; z = 0.6745 * 97 / 1 = 65.4265.
    expect(modifiedZ([1, 2, 3, 4, 100])).toBeCloseTo(65.4265, 9);
    // [4, 2, 3, 1]: median 2.5; deviations 1.5, 0.5, 0.5, 1.5 -> MAD 1; z(1) = 0.6745 * -1.5 = -1.01175.
    expect(modifiedZ([4, 2, 3, 1])).toBeCloseTo(-1.01175, 9);
  });

  it('falls back to the mean absolute deviation when MAD is 0', () => {
    // Seven 5s and a 13: median 5, MAD 0; mean |deviation| = 8 / 8 = 1; z = 8 / (1.253314 * 1) = 6.3830.
    expect(modifiedZ([5, 5, 5, 5, 5, 5, 5, 13])).toBeCloseTo(8 / 1.253314, 9);
    expect(modifiedZ([5, 5, 5, 5])).toBe(0);
    // The current value equals the median while MAD is 0: not unusual.
    expect(modifiedZ([5, 5, 5, 9, 5])).toBe(0);
  });
});

describe('robustAnomalyScores', () => {
  it('scores 0 during warm-up and one score per reading', () => {
    const r = robustAnomalyScores(vibration);
    expect(r.scores).toHaveLength(vibration.length);
    expect(r.scores.slice(0, 7)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(r.scores[7]).not.toBe(0);
    expect(r.scores[7]).toBe(Math.round(modifiedZ(vibration.slice(0, 8)) * 1000) / 1000);
    expect(r.anomalies).toEqual([]);
    expect(r.status).not.toBe('alarm');
  });

  it('flags an injected spike and none of the normal points', () => {
    const readings = [...vibration];
    readings[30] = readings[30]! + 2;
    const r = robustAnomalyScores(readings);
    expect(r.anomalies).toEqual([30]);
    expect(r.scores[30]).toBeGreaterThan(3.5);
    expect(r.maxScore).toBe(r.scores[30]);
    expect(r.status).toBe('alarm');
    r.scores.forEach((z, i) => i !== 30 && expect(Math.abs(z)).toBeLessThanOrEqual(3.5));
  });

  it('flags a dip with a negative score', () => {
    const readings = [...vibration];
    readings[20] = readings[20]! - 2;
    const r = robustAnomalyScores(readings);
    expect(r.anomalies).toEqual([20]);
    expect(r.scores[20]).toBeLessThan(-3.5);
    expect(r.maxScore).toBe(-r.scores[20]!);
  });

  it('is ok on a steady ramp, warns between threshold/2 and threshold', () => {
    // A ramp: each window is 8 evenly spaced values; the newest is 3.5 steps above the median,
    // MAD is 2 steps, so every score is 0.6745 * 3.5 / 2 = 1.180 (< 3.5 / 2).
    const ramp = Array.from({ length: 16 }, (_, i) => 10 + i);
    const r = robustAnomalyScores(ramp);
    expect(r.scores.slice(7)).toEqual(new Array(9).fill(1.18));
    expect(r.status).toBe('ok');
    // Same ramp judged with threshold 2: 1.18 > 1, so warn, but nothing over 2.
    expect(robustAnomalyScores(ramp, 8, 2)).toMatchObject({ status: 'warn', anomalies: [] });
  });

  it('honours the window', () => {
    const r = robustAnomalyScores(vibration, 16);
    expect(r.scores.slice(0, 15).every((z) => z === 0)).toBe(true);
    expect(r.scores[15]).toBe(Math.round(modifiedZ(vibration.slice(0, 16)) * 1000) / 1000);
  });
});

describe('factory.anomaly agent', () => {
  it('returns the scores and writes the machine status', async () => {
    const readings = [...vibration];
    readings[40] = 9;
    const { result, data, progress } = await runAgent('factory.anomaly', { machine: 'press-7', readings });
    expect(result).toEqual(factoryAnomaly({ machine: 'press-7', readings }));
    expect(result).toMatchObject({ machine: 'press-7', anomalies: [40], status: 'alarm' });
    const { maxScore } = result as { maxScore: number };
    expect(data.get('factory.anomaly/status/press-7')).toEqual({ status: 'alarm', maxScore, at: NOW });
    expect(progress.at(-1)?.pct).toBe(100);
  });

  const readings = [1, 2, 3, 4, 5, 6, 7, 8];
  it.each([
    [[1, 2], 'factory.anomaly: payload must be an object (got an array of 2 items)'],
    [{ readings }, 'factory.anomaly: payload.machine must be a string of 1..200 characters (got missing)'],
    [{ machine: '', readings }, 'factory.anomaly: payload.machine must be a string of 1..200 characters (got "")'],
    [{ machine: 'm', readings: readings.slice(1) }, 'factory.anomaly: payload.readings must be an array of at least 8 numbers (got 7)'],
    [{ machine: 'm', readings: [...readings, Number.POSITIVE_INFINITY] }, 'factory.anomaly: payload.readings must be an array of at least 8 numbers (readings[8] is Infinity)'],
    [{ machine: 'm', readings: [...readings, Number.NaN] }, 'factory.anomaly: payload.readings must be an array of at least 8 numbers (readings[8] is NaN)'],
    [{ machine: 'm', readings, window: 2 }, 'factory.anomaly: payload.window must be an integer in 3..8 (got 2)'],
    [{ machine: 'm', readings, window: 9 }, 'factory.anomaly: payload.window must be an integer in 3..8 (got 9)'],
    [{ machine: 'm', readings, window: '4' }, 'factory.anomaly: payload.window must be an integer in 3..8 (got "4")'],
    [{ machine: 'm', readings, threshold: 0 }, 'factory.anomaly: payload.threshold must be a positive finite number <= 1000 (got 0)'],
  ])('rejects %j', async (payload, message) => {
    const err = await runAgent('factory.anomaly', payload).catch((e: unknown) => e);
    expect(isMeshError(err, 'INVALID_TASK')).toBe(true);
    expect((err as Error).message).toBe(message);
  });

  it('accepts negative readings (e.g. temperatures below zero)', async () => {
    const { result } = await runAgent('factory.anomaly', { machine: 'freezer', readings: vibration.map((v) => v - 20) });
    expect((result as { anomalies: number[] }).anomalies).toEqual([]);
  });
});
