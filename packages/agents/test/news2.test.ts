// clinic.triage: NEWS2 against hand-worked examples from the RCP chart, the band edges of every
// parameter and of every risk level, SpO2 scale 2, payload validation and the shared-data write.
import { describe, expect, it } from 'vitest';
import { isMeshError } from '@agentmesh/scheduler';
import { news2, NEWS2_RESPONSES, news2Spo2Score, type News2Observations } from '../src/index.js';
import { NOW, runAgent } from './context.js';

// A healthy adult: every parameter in its 0 band.
const normal: News2Observations = { respRate: 16, spo2: 97, onOxygen: false, systolic: 125, pulse: 72, consciousness: 'A', temperature: 36.8 };
const score = (o: Partial<News2Observations>) => news2({ ...normal, ...o });

describe('NEWS2 worked examples', () => {
  it('all normal: 0, low, routine monitoring', () => {
    const r = score({});
    expect(r).toEqual({
      score: 0,
      components: { respRate: 0, spo2: 0, air: 0, systolic: 0, pulse: 0, consciousness: 0, temperature: 0 },
      risk: 'low',
      response: NEWS2_RESPONSES.zero,
    });
  });

  it('1: low (bottom of the 1-4 band)', () => {
    // temperature 38.5 is in 38.1-39.0 -> 1.
    expect(score({ temperature: 38.5 })).toMatchObject({ score: 1, risk: 'low', response: NEWS2_RESPONSES.low });
  });

  it('4 without any 3: low (top of the band)', () => {
    // RR 22 (21-24 -> 2) + SpO2 95 (94-95 -> 1) + pulse 95 (91-110 -> 1) = 4.
    const r = score({ respRate: 22, spo2: 95, pulse: 95 });
    expect(r).toMatchObject({ score: 4, risk: 'low', components: { respRate: 2, spo2: 1, pulse: 1 } });
  });

  it('3 from a single parameter: low-medium', () => {
    // RR 8 (<= 8 -> 3), everything else 0.
    expect(score({ respRate: 8 })).toMatchObject({ score: 3, risk: 'low-medium', response: NEWS2_RESPONSES['low-medium'] });
  });

  it('4 including a 3: low-medium', () => {
    // systolic 90 (<= 90 -> 3) + temperature 35.5 (35.1-36.0 -> 1) = 4.
    expect(score({ systolic: 90, temperature: 35.5 })).toMatchObject({ score: 4, risk: 'low-medium', components: { systolic: 3, temperature: 1 } });
  });

  it('5: medium (bottom of the band)', () => {
    // RR 22 (2) + SpO2 93 (92-93 -> 2) + pulse 91 (91-110 -> 1) = 5.
    expect(score({ respRate: 22, spo2: 93, pulse: 91 })).toMatchObject({ score: 5, risk: 'medium', response: NEWS2_RESPONSES.medium });
  });

  it('5 and 6 including a 3: medium, not low-medium', () => {
    // unresponsive (3) + RR 21 (2) = 5.
    expect(score({ consciousness: 'U', respRate: 21 })).toMatchObject({ score: 5, risk: 'medium' });
    // new confusion (3) + temperature 39.1 (>= 39.1 -> 2) + pulse 105 (1) = 6.
    expect(score({ consciousness: 'C', temperature: 39.1, pulse: 105 })).toMatchObject({ score: 6, risk: 'medium' });
  });

  it('7: high (bottom of the band)', () => {
    // on oxygen (2) + SpO2 94 on scale 1 (1) + RR 25 (>= 25 -> 3) + systolic 101 (101-110 -> 1) = 7.
    const r = score({ onOxygen: true, spo2: 94, respRate: 25, systolic: 101 });
    expect(r).toMatchObject({ score: 7, risk: 'high', response: NEWS2_RESPONSES.high });
    expect(r.components).toEqual({ respRate: 3, spo2: 1, air: 2, systolic: 1, pulse: 0, consciousness: 0, temperature: 0 });
  });

  it('the maximum, 20', () => {
    // RR 30 (3) + SpO2 85 scale 1 (3) + oxygen (2) + systolic 230 (3) + pulse 140 (3) + U (3) + 34.0 degC (3).
    const r = score({ respRate: 30, spo2: 85, onOxygen: true, systolic: 230, pulse: 140, consciousness: 'U', temperature: 34 });
    expect(r).toMatchObject({ score: 20, risk: 'high' });
  });

  it('SpO2 scale 2 (hypercapnic respiratory failure)', () => {
    // SpO2 88 on air: scale 1 gives 3 (<= 91), scale 2 gives 0 (88-92 is the target range).
    expect(score({ spo2: 88 })).toMatchObject({ score: 3, risk: 'low-medium' });
    expect(score({ spo2: 88, spo2Scale: 2 })).toMatchObject({ score: 0, risk: 'low' });
    // On oxygen with SpO2 97 on scale 2: over-oxygenated, 3, plus 2 for oxygen = 5, medium.
    expect(score({ spo2: 97, spo2Scale: 2, onOxygen: true })).toMatchObject({ score: 5, risk: 'medium', components: { spo2: 3, air: 2 } });
    // On oxygen with SpO2 90 on scale 2: target range, 0, plus 2 for oxygen = 2, low.
    expect(score({ spo2: 90, spo2Scale: 2, onOxygen: true })).toMatchObject({ score: 2, risk: 'low' });
    // On air with SpO2 97 on scale 2: 0 (>= 93 on air scores nothing).
    expect(score({ spo2: 97, spo2Scale: 2 })).toMatchObject({ score: 0 });
  });
});

describe('NEWS2 band edges', () => {
  const table = (field: keyof News2Observations, rows: Array<[number | string, number]>, extra: Partial<News2Observations> = {}) =>
    rows.forEach(([v, expected]) => {
      const key = field === 'onOxygen' ? 'air' : field;
      expect([field, v, score({ ...extra, [field]: v }).components[key as keyof ReturnType<typeof news2>['components']]]).toEqual([field, v, expected]);
    });

  it('respiration rate', () => table('respRate', [[0, 3], [8, 3], [9, 1], [11, 1], [12, 0], [20, 0], [21, 2], [24, 2], [25, 3], [60, 3]]));
  it('SpO2 scale 1', () => table('spo2', [[70, 3], [91, 3], [92, 2], [93, 2], [94, 1], [95, 1], [96, 0], [100, 0]]));
  it('SpO2 scale 2 on air', () =>
    table('spo2', [[83, 3], [84, 2], [85, 2], [86, 1], [87, 1], [88, 0], [92, 0], [93, 0], [97, 0], [100, 0]], { spo2Scale: 2 }));
  it('SpO2 scale 2 on oxygen', () =>
    table('spo2', [[83, 3], [84, 2], [86, 1], [88, 0], [92, 0], [93, 1], [94, 1], [95, 2], [96, 2], [97, 3], [100, 3]], { spo2Scale: 2, onOxygen: true }));
  it('air or oxygen', () => {
    expect(score({ onOxygen: true }).components.air).toBe(2);
    expect(score({ onOxygen: false }).components.air).toBe(0);
  });
  it('systolic blood pressure', () => table('systolic', [[60, 3], [90, 3], [91, 2], [100, 2], [101, 1], [110, 1], [111, 0], [219, 0], [220, 3]]));
  it('pulse', () => table('pulse', [[30, 3], [40, 3], [41, 1], [50, 1], [51, 0], [90, 0], [91, 1], [110, 1], [111, 2], [130, 2], [131, 3]]));
  it('temperature', () => table('temperature', [[34, 3], [35, 3], [35.1, 1], [36, 1], [36.1, 0], [38, 0], [38.1, 1], [39, 1], [39.1, 2], [41, 2]]));
  it('consciousness (ACVPU)', () => {
    expect(score({ consciousness: 'A' }).components.consciousness).toBe(0);
    for (const c of ['C', 'V', 'P', 'U'] as const) expect(score({ consciousness: c }).components.consciousness).toBe(3);
  });
  it('rounds to the chart resolution before banding', () => {
    expect(score({ respRate: 20.4 }).components.respRate).toBe(0); // 20
    expect(score({ respRate: 20.5 }).components.respRate).toBe(2); // 21
    expect(score({ temperature: 36.04 }).components.temperature).toBe(1); // 36.0
    expect(score({ temperature: 36.05 }).components.temperature).toBe(0); // 36.1
    expect(news2Spo2Score(95.6, 1, false)).toBe(0); // 96
  });
});

describe('clinic.triage agent', () => {
  it('returns the score and writes the triage entry', async () => {
    const payload = { patient: 'bed-12', ...normal, respRate: 25, pulse: 112 };
    const { result, data, progress } = await runAgent('clinic.triage', payload);
    // RR 25 (3) + pulse 112 (111-130 -> 2) = 5: medium.
    expect(result).toMatchObject({ patient: 'bed-12', score: 5, risk: 'medium', components: { respRate: 3, pulse: 2 } });
    expect(data.get('clinic.triage/triage/bed-12')).toEqual({ score: 5, risk: 'medium', at: NOW });
    expect(progress.at(-1)?.pct).toBe(100);
  });

  const p = { patient: 'bed-1', ...normal };
  it.each([
    ['patient missing', { ...normal }, 'clinic.triage: payload.patient must be a string of 1..200 characters (got missing)'],
    ['respRate missing', { ...p, respRate: undefined }, 'clinic.triage: payload.respRate must be a finite number in 0..100 (got missing)'],
    ['pulse NaN', { ...p, pulse: Number.NaN }, 'clinic.triage: payload.pulse must be a finite number in 0..300 (got NaN)'],
    ['systolic a string', { ...p, systolic: '120' }, 'clinic.triage: payload.systolic must be a finite number in 0..350 (got "120")'],
    ['spo2 over 100', { ...p, spo2: 101 }, 'clinic.triage: payload.spo2 must be a finite number in 0..100 (got 101)'],
    ['spo2Scale 3', { ...p, spo2Scale: 3 }, 'clinic.triage: payload.spo2Scale must be one of 1, 2 (got 3)'],
    ['onOxygen missing', { ...p, onOxygen: undefined }, 'clinic.triage: payload.onOxygen must be true or false (got missing)'],
    ['onOxygen "yes"', { ...p, onOxygen: 'yes' }, 'clinic.triage: payload.onOxygen must be true or false (got "yes")'],
    ['consciousness lower case', { ...p, consciousness: 'a' }, 'clinic.triage: payload.consciousness must be one of "A", "C", "V", "P", "U" (got "a")'],
    ['temperature in Fahrenheit', { ...p, temperature: 98.6 }, 'clinic.triage: payload.temperature must be a finite number in 25..45 (got 98.6)'],
  ])('rejects %s', async (_name, payload, message) => {
    const err = await runAgent('clinic.triage', payload).catch((e: unknown) => e);
    expect(isMeshError(err, 'INVALID_TASK')).toBe(true);
    expect((err as Error).message).toBe(message);
  });

  it('news2() reports bad observations as INVALID_ARGUMENT', () => {
    let err: unknown;
    try {
      news2({ ...normal, pulse: Number.NaN });
    } catch (e) {
      err = e;
    }
    expect(isMeshError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toBe('news2: observations.pulse must be a finite number in 0..300 (got NaN)');
  });
});
