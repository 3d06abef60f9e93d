// traffic.forecast: Holt / Holt-Winters smoothing and its grid search, the signal-plan rule,
// payload validation, and the agent's shared-data write and progress.
import { describe, expect, it } from 'vitest';
import { isMeshError } from '@agentmesh/scheduler';
import { agentDefinition } from '../src/contract.js';
import {
  builtinAgents,
  holtFit,
  holtForecast,
  holtWintersFit,
  holtWintersForecast,
  signalPlan,
  SMOOTHING_GRID,
  trafficForecast,
} from '../src/index.js';
import { fakeContext, NOW, runAgent } from './context.js';

const seasonal = (t: number) => 200 + 2 * t + 50 * Math.sin((2 * Math.PI * t) / 12);
const series = (n: number, f: (t: number) => number) => Array.from({ length: n }, (_, t) => f(t));

describe('Holt smoothing', () => {
  it('matches a hand-worked fit', () => {
    // y = [10, 12, 15, 14], alpha = beta = 0.5. Start: level 12, trend 2 (12 - 10).
    // t=2: forecast 14, error +1;     level 0.5*15 + 0.5*14 = 14.5;     trend 0.5*2.5 + 0.5*2 = 2.25
    // t=3: forecast 16.75, error -2.75; level 0.5*14 + 0.5*16.75 = 15.375; trend 0.5*0.875 + 0.5*2.25 = 1.5625
    // SSE = 1 + 7.5625 = 8.5625, MAE = (1 + 2.75) / 2 = 1.875; forecasts 16.9375, 18.5.
    const fit = holtFit([10, 12, 15, 14], 0.5, 0.5);
    expect(fit).toMatchObject({ level: 15.375, trend: 1.5625, sse: 8.5625, mae: 1.875, errors: 2 });
  });

  it('forecasts a straight line exactly', () => {
    const f = holtForecast(series(12, (t) => 10 + 5 * t), 4);
    expect(f.model).toBe('holt');
    f.forecast.forEach((v, k) => expect(v).toBeCloseTo(10 + 5 * (12 + k), 9));
    expect(f.mae).toBeCloseTo(0, 9);
  });

  it('picks the grid point with the least one-step SSE', () => {
    const y = [120, 135, 128, 150, 160, 149, 171, 180, 176, 190, 204, 199];
    const f = holtForecast(y, 3);
    for (const a of SMOOTHING_GRID) for (const b of SMOOTHING_GRID) expect(f.sse).toBeLessThanOrEqual(holtFit(y, a, b).sse);
    const chosen = holtFit(y, f.alpha, f.beta);
    expect(f.forecast[0]).toBeCloseTo(chosen.level + chosen.trend, 9);
    expect(f.forecast[2]).toBeCloseTo(chosen.level + 3 * chosen.trend, 9);
    expect(holtForecast(y, 3)).toEqual(f); // deterministic
  });

  it('rejects bad arguments', () => {
    expect(() => holtForecast([1, 2, 3], 2)).toThrow('holtForecast: series must be an array of at least 4 numbers (got 3)');
    expect(() => holtForecast([1, 2, Number.NaN, 4], 2)).toThrow('series[2] is NaN');
    expect(() => holtForecast([1, 2, 3, 4], 0)).toThrow('holtForecast: horizon must be an integer in 1..96 (got 0)');
    expect(() => holtFit([1, 2, 3], 1.5, 0.5)).toThrow('holtFit: alpha must be a finite number in 0..1 (got 1.5)');
  });
});

describe('Holt-Winters smoothing', () => {
  it('forecasts a clean trend-plus-season series exactly', () => {
    const f = holtWintersForecast(series(48, seasonal), 12, 12);
    expect(f.model).toBe('holt-winters');
    expect(f.mae).toBeLessThan(1e-9);
    f.forecast.forEach((v, k) => expect(v).toBeCloseTo(seasonal(48 + k), 6));
  });

  it('recovers the season from a noisy series within tolerance', () => {
    // Deterministic "noise" of amplitude 4 on a season of amplitude 50.
    const y = series(72, (t) => seasonal(t) + 4 * Math.sin(7.3 * t));
    const f = holtWintersForecast(y, 12, 12);
    f.forecast.forEach((v, k) => expect(Math.abs(v - seasonal(72 + k))).toBeLessThan(8));
    // The seasonal shape: forecast minus its mean trend line follows 50 sin(2 pi t / 12).
    const detrended = f.forecast.map((v, k) => v - (200 + 2 * (72 + k)));
    detrended.forEach((v, k) => expect(Math.abs(v - 50 * Math.sin((2 * Math.PI * (72 + k)) / 12))).toBeLessThan(8));
    // And it beats plain Holt on the same data by a wide margin.
    expect(f.mae * 3).toBeLessThan(holtForecast(y, 12).mae);
  });

  it('initialises from the first two seasons (hand-worked, season 2)', () => {
    // y = [10, 20, 14, 24, 18], m = 2. mean(season 1) = 15, mean(season 2) = 19, trend = 4/2 = 2,
    // level at t=1: 15 + 2*(1/2) = 16; seasonal[0] = 10 - (15 - 0.5*2) = -4, seasonal[1] = 20 - (15 + 0.5*2) = 4.
    // alpha = beta = gamma = 1: t=2: forecast 16+2-4 = 14 (error 0); level 18, trend 2, s[0] = 14-18 = -4.
    // t=3: forecast 18+2+4 = 24 (0); level 20, trend 2, s[1] = 4. t=4: forecast 20+2-4 = 18 (0).
    const fit = holtWintersFit([10, 20, 14, 24, 18], 2, 1, 1, 1);
    expect(fit).toMatchObject({ level: 22, trend: 2, seasonal: [-4, 4], sse: 0, errors: 3 });
  });

  it('needs two seasons of data', () => {
    expect(() => holtWintersForecast(series(23, seasonal), 12, 4)).toThrow('holtWintersForecast: series must be an array of at least 24 numbers (got 23)');
  });
});

describe('signalPlan', () => {
  it('gives green = 90 s * peak flow / 1800 veh/h, rounded, clamped to [10, 80]', () => {
    expect(signalPlan([400, 600, 500])).toEqual({ cycleSeconds: 90, greenSeconds: 30, flowVehPerHour: 600, saturationVehPerHour: 1800 });
    expect(signalPlan([910]).greenSeconds).toBe(46); // 45.5 rounds up
    expect(signalPlan([100]).greenSeconds).toBe(10); // 5 s, raised to the minimum
    expect(signalPlan([0, 0]).greenSeconds).toBe(10);
    expect(signalPlan([2000]).greenSeconds).toBe(80); // 100 s, capped
    expect(signalPlan([150], { intervalMinutes: 15 })).toMatchObject({ greenSeconds: 30, flowVehPerHour: 600 });
  });
});

describe('trafficForecast', () => {
  it('uses Holt-Winters with a season and enough data, Holt otherwise', () => {
    const y = series(48, seasonal);
    const hw = trafficForecast({ junction: 'J1', counts: y, season: 12, horizon: 6 });
    expect(hw.model).toBe('holt-winters');
    expect(hw.params.gamma).toBeDefined();
    expect(hw.forecast).toHaveLength(6);
    const holt = trafficForecast({ junction: 'J1', counts: y.slice(0, 20), season: 12 });
    expect(holt.model).toBe('holt');
    expect(holt.params).not.toHaveProperty('gamma');
    expect(holt.forecast).toHaveLength(4);
  });

  it('clamps forecasts at zero and rounds to 2 decimals', () => {
    const r = trafficForecast({ junction: 'J', counts: [40, 30, 20, 10], horizon: 3 });
    expect(r.forecast).toEqual([0, 0, 0]);
    const s = trafficForecast({ junction: 'J', counts: [10, 10.333, 10.666, 11], horizon: 2 });
    for (const v of s.forecast) expect(Math.round(v * 100) / 100).toBe(v);
  });
});

describe('traffic.forecast agent', () => {
  it('returns the forecast, writes it to shared data and reports progress', async () => {
    const counts = series(48, (t) => Math.round(seasonal(t)));
    const { result, data, progress } = await runAgent('traffic.forecast', { junction: 'north-gate', counts, season: 12, horizon: 3 });
    const r = result as ReturnType<typeof trafficForecast>;
    expect(r).toEqual(trafficForecast({ junction: 'north-gate', counts, season: 12, horizon: 3 }));
    expect(Object.keys(r).sort()).toEqual(['forecast', 'junction', 'mae', 'model', 'params', 'signalPlan']);
    expect(r.signalPlan.greenSeconds).toBe(signalPlan(r.forecast).greenSeconds);
    expect(data.get('traffic.forecast/forecast/north-gate')).toEqual({ forecast: r.forecast, at: NOW });
    const pcts = progress.map((p) => p.pct);
    expect(pcts.length).toBeGreaterThan(3);
    expect([...pcts].sort((a, b) => a - b)).toEqual(pcts);
    expect(pcts.at(-1)).toBe(100);
  });

  it('stops when already aborted', async () => {
    const { ctx, controller, data } = fakeContext({ type: 'traffic.forecast' });
    const reason = new Error('timed out');
    controller.abort(reason);
    const run = async () => agentDefinition(builtinAgents()['traffic.forecast']!).run({ junction: 'J', counts: [1, 2, 3, 4] }, ctx);
    await expect(run()).rejects.toBe(reason);
    expect(data.size).toBe(0);
  });

  const counts = [10, 12, 14, 16];
  it.each([
    [null, 'traffic.forecast: payload must be an object (got null)'],
    [{ counts }, 'traffic.forecast: payload.junction must be a string of 1..200 characters (got missing)'],
    [{ junction: 7, counts }, 'traffic.forecast: payload.junction must be a string of 1..200 characters (got 7)'],
    [{ junction: 'J' }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (got missing)'],
    [{ junction: 'J', counts: '1,2,3,4' }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (got "1,2,3,4")'],
    [{ junction: 'J', counts: [1, 2, 3] }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (got 3)'],
    [{ junction: 'J', counts: [1, 2, -3, 4] }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (counts[2] is -3)'],
    [{ junction: 'J', counts: [1, Number.NaN, 3, 4] }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (counts[1] is NaN)'],
    [{ junction: 'J', counts: [1, 2, 3, '4'] }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (counts[3] is "4")'],
    [{ junction: 'J', counts: [1, 2, 3, null] }, 'traffic.forecast: payload.counts must be an array of at least 4 non-negative numbers (counts[3] is null)'],
    [{ junction: 'J', counts, horizon: 0 }, 'traffic.forecast: payload.horizon must be an integer in 1..96 (got 0)'],
    [{ junction: 'J', counts, horizon: 97 }, 'traffic.forecast: payload.horizon must be an integer in 1..96 (got 97)'],
    [{ junction: 'J', counts, horizon: 2.5 }, 'traffic.forecast: payload.horizon must be an integer in 1..96 (got 2.5)'],
    [{ junction: 'J', counts, season: 1 }, 'traffic.forecast: payload.season must be an integer in 2..20000 (got 1)'],
    [{ junction: 'J', counts, intervalMinutes: 0 }, 'traffic.forecast: payload.intervalMinutes must be a finite number in 1..1440 (got 0)'],
  ])('rejects %j', async (payload, message) => {
    const err = await runAgent('traffic.forecast', payload).catch((e: unknown) => e);
    expect(isMeshError(err, 'INVALID_TASK')).toBe(true);
    expect((err as Error).message).toBe(message);
  });

  it('rejects an over-long series', async () => {
    await expect(runAgent('traffic.forecast', { junction: 'J', counts: new Array(20_001).fill(1) })).rejects.toThrow(
      'traffic.forecast: payload.counts has 20001 entries; at most 20000 are accepted',
    );
  });
});
