// The `traffic.forecast` agent and its pure parts: Holt's linear trend and additive Holt-Winters
// exponential smoothing fitted by a deterministic grid search on one-step-ahead SSE, and the rule
// that turns a forecast into a green time for a fixed 90 s signal cycle. No randomness anywhere:
// the same counts always give the same forecast, on any peer.
import { MeshError } from '@agentmesh/scheduler';
import type { AgentContext, AgentDefinition } from './contract.js';
import { MAX_SERIES_LENGTH, PayloadReader, round } from './validate.js';

/** Candidate values for alpha, beta and gamma; the search tries every combination. */
export const SMOOTHING_GRID: readonly number[] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export const MAX_HORIZON = 96;

/** Called as the grid search advances (done of total rows); may throw to stop it. */
export type StepCallback = (done: number, total: number) => void;

export interface HoltFit {
  alpha: number;
  beta: number;
  /** Level and trend after the last observation. */
  level: number;
  trend: number;
  /** Sum of squared one-step-ahead errors, and their mean absolute value. */
  sse: number;
  mae: number;
  /** Number of one-step-ahead errors the fit was scored on. */
  errors: number;
}

export interface HoltWintersFit extends HoltFit {
  gamma: number;
  season: number;
  /** Seasonal component by phase (index = time mod season), after the last observation. */
  seasonal: number[];
}

export interface SmoothingForecast {
  model: 'holt' | 'holt-winters';
  alpha: number;
  beta: number;
  gamma?: number;
  /** Raw forecasts for steps 1..horizon (not clamped or rounded). */
  forecast: number[];
  sse: number;
  mae: number;
}

function args(fn: string, values: Record<string, unknown>): PayloadReader {
  return new PayloadReader(fn, values, 'INVALID_ARGUMENT', '');
}

function checkSmoothing(fn: string, values: Record<string, number>): void {
  const r = args(fn, values);
  for (const k of Object.keys(values)) r.number(k, { min: 0, max: 1 });
}

/**
 * Holt's linear trend with fixed parameters. Starts from level = y[1], trend = y[1] - y[0] and
 * scores the one-step-ahead forecasts of y[2..n-1]:
 *   forecast_t = level + trend
 *   level'     = alpha * y_t + (1 - alpha) * (level + trend)
 *   trend'     = beta * (level' - level) + (1 - beta) * trend
 */
export function holtFit(series: readonly number[], alpha: number, beta: number): HoltFit {
  args('holtFit', { series }).numberArray('series', { minLength: 3, maxLength: MAX_SERIES_LENGTH });
  checkSmoothing('holtFit', { alpha, beta });
  return holtRun(series, alpha, beta);
}

function holtRun(y: readonly number[], alpha: number, beta: number): HoltFit {
  let level = y[1]!;
  let trend = y[1]! - y[0]!;
  let sse = 0;
  let sae = 0;
  for (let t = 2; t < y.length; t++) {
    const e = y[t]! - (level + trend);
    sse += e * e;
    sae += Math.abs(e);
    const next = alpha * y[t]! + (1 - alpha) * (level + trend);
    trend = beta * (next - level) + (1 - beta) * trend;
    level = next;
  }
  const errors = y.length - 2;
  return { alpha, beta, level, trend, sse, mae: sae / errors, errors };
}

/**
 * Additive Holt-Winters with fixed parameters, season length m, needing at least 2m points.
 * Initialisation from the first two seasons: trend = (mean(season 2) - mean(season 1)) / m; the
 * level at the end of season 1 = mean(season 1) + trend * (m - 1) / 2; seasonal[i] = y[i] minus
 * the trend line through season 1 at i. Then, for t = m..n-1 (these are the scored errors):
 *   forecast_t = level + trend + s[t - m]
 *   level'     = alpha * (y_t - s[t - m]) + (1 - alpha) * (level + trend)
 *   trend'     = beta * (level' - level) + (1 - beta) * trend
 *   s[t]       = gamma * (y_t - level') + (1 - gamma) * s[t - m]
 */
export function holtWintersFit(series: readonly number[], season: number, alpha: number, beta: number, gamma: number): HoltWintersFit {
  const r = args('holtWintersFit', { series, season });
  r.number('season', { min: 2, integer: true });
  r.numberArray('series', { minLength: 2 * season, maxLength: MAX_SERIES_LENGTH });
  checkSmoothing('holtWintersFit', { alpha, beta, gamma });
  return holtWintersRun(series, season, alpha, beta, gamma);
}

function mean(xs: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += xs[i]!;
  return s / (to - from);
}

function holtWintersRun(y: readonly number[], m: number, alpha: number, beta: number, gamma: number): HoltWintersFit {
  const m1 = mean(y, 0, m);
  const m2 = mean(y, m, 2 * m);
  let trend = (m2 - m1) / m;
  let level = m1 + (trend * (m - 1)) / 2;
  const seasonal = Array.from({ length: m }, (_, i) => y[i]! - (m1 + (i - (m - 1) / 2) * trend));
  let sse = 0;
  let sae = 0;
  for (let t = m; t < y.length; t++) {
    const phase = t % m;
    const s = seasonal[phase]!;
    const e = y[t]! - (level + trend + s);
    sse += e * e;
    sae += Math.abs(e);
    const next = alpha * (y[t]! - s) + (1 - alpha) * (level + trend);
    trend = beta * (next - level) + (1 - beta) * trend;
    level = next;
    seasonal[phase] = gamma * (y[t]! - next) + (1 - gamma) * s;
  }
  const errors = y.length - m;
  return { alpha, beta, gamma, season: m, level, trend, seasonal, sse, mae: sae / errors, errors };
}

function checkHorizon(fn: string, horizon: number): void {
  args(fn, { horizon }).number('horizon', { min: 1, max: MAX_HORIZON, integer: true });
}

/**
 * Holt's linear trend forecast for steps 1..horizon, with alpha and beta chosen from
 * SMOOTHING_GRID by the smallest one-step-ahead SSE (first in grid order on ties).
 */
export function holtForecast(series: readonly number[], horizon: number, opts: { onStep?: StepCallback } = {}): SmoothingForecast {
  args('holtForecast', { series }).numberArray('series', { minLength: 4, maxLength: MAX_SERIES_LENGTH });
  checkHorizon('holtForecast', horizon);
  let best: HoltFit | undefined;
  SMOOTHING_GRID.forEach((alpha, i) => {
    for (const beta of SMOOTHING_GRID) {
      const fit = holtRun(series, alpha, beta);
      if (!best || fit.sse < best.sse) best = fit;
    }
    opts.onStep?.(i + 1, SMOOTHING_GRID.length);
  });
  const b = best!;
  const forecast = Array.from({ length: horizon }, (_, h) => b.level + (h + 1) * b.trend);
  return { model: 'holt', alpha: b.alpha, beta: b.beta, forecast, sse: b.sse, mae: b.mae };
}

/**
 * Additive Holt-Winters forecast for steps 1..horizon (series.length >= 2 * season), with alpha,
 * beta and gamma chosen from SMOOTHING_GRID by the smallest one-step-ahead SSE.
 */
export function holtWintersForecast(
  series: readonly number[],
  season: number,
  horizon: number,
  opts: { onStep?: StepCallback } = {},
): SmoothingForecast {
  const r = args('holtWintersForecast', { series, season });
  r.number('season', { min: 2, integer: true });
  r.numberArray('series', { minLength: 2 * season, maxLength: MAX_SERIES_LENGTH });
  checkHorizon('holtWintersForecast', horizon);
  let best: HoltWintersFit | undefined;
  SMOOTHING_GRID.forEach((alpha, i) => {
    for (const beta of SMOOTHING_GRID) {
      for (const gamma of SMOOTHING_GRID) {
        const fit = holtWintersRun(series, season, alpha, beta, gamma);
        if (!best || fit.sse < best.sse) best = fit;
      }
    }
    opts.onStep?.(i + 1, SMOOTHING_GRID.length);
  });
  const b = best!;
  const n = series.length;
  const forecast = Array.from({ length: horizon }, (_, k) => {
    const h = k + 1;
    return b.level + h * b.trend + b.seasonal[(n - 1 + h) % season]!;
  });
  return { model: 'holt-winters', alpha: b.alpha, beta: b.beta, gamma: b.gamma, forecast, sse: b.sse, mae: b.mae };
}

export interface SignalPlanOptions {
  /** Minutes covered by one count interval (default 60, i.e. counts are vehicles per hour). */
  intervalMinutes?: number;
  cycleSeconds?: number;
  saturationVehPerHour?: number;
  minGreenSeconds?: number;
  maxGreenSeconds?: number;
}

export interface SignalPlan {
  cycleSeconds: number;
  greenSeconds: number;
  /** Design flow: the peak forecast interval, converted to vehicles per hour. */
  flowVehPerHour: number;
  saturationVehPerHour: number;
}

/**
 * Green time for the junction's approach in a fixed cycle: the share of the cycle the approach
 * needs to discharge its design flow at saturation flow,
 *   green = cycle * flow / saturation   (90 s * flow / 1800 veh/h by default),
 * where flow is the peak of the forecast in vehicles per hour; rounded to whole seconds and
 * clamped to [10, 80] s so the approach is never starved and the other phases keep 10 s.
 */
export function signalPlan(forecast: readonly number[], opts: SignalPlanOptions = {}): SignalPlan {
  const intervalMinutes = opts.intervalMinutes ?? 60;
  const cycleSeconds = opts.cycleSeconds ?? 90;
  const saturationVehPerHour = opts.saturationVehPerHour ?? 1800;
  const minGreen = opts.minGreenSeconds ?? 10;
  const maxGreen = opts.maxGreenSeconds ?? 80;
  const r = args('signalPlan', { forecast, intervalMinutes, cycleSeconds, saturationVehPerHour, minGreen, maxGreen });
  r.numberArray('forecast', { minLength: 1, min: 0 });
  r.number('intervalMinutes', { positive: true });
  r.number('cycleSeconds', { positive: true });
  r.number('saturationVehPerHour', { positive: true });
  r.number('minGreen', { min: 0, max: cycleSeconds });
  r.number('maxGreen', { min: minGreen, max: cycleSeconds });
  const peak = Math.max(...forecast);
  const flowVehPerHour = (peak * 60) / intervalMinutes;
  const raw = (cycleSeconds * flowVehPerHour) / saturationVehPerHour;
  const greenSeconds = Math.min(maxGreen, Math.max(minGreen, Math.round(raw)));
  return { cycleSeconds, greenSeconds, flowVehPerHour: round(flowVehPerHour, 2), saturationVehPerHour };
}

export interface TrafficForecastInput {
  junction: string;
  /** Vehicle counts per interval, oldest first, at least 4. */
  counts: number[];
  horizon?: number;
  /** Season length in intervals (e.g. 24 for hourly counts with a daily pattern). */
  season?: number;
  /** Minutes per count interval, for the signal plan's veh/h (default 60). */
  intervalMinutes?: number;
}

export interface TrafficForecastResult {
  junction: string;
  model: 'holt' | 'holt-winters';
  forecast: number[];
  params: { alpha: number; beta: number; gamma?: number };
  mae: number;
  signalPlan: SignalPlan;
}

/** Checks a traffic.forecast payload; throws MeshError('INVALID_TASK') naming the bad field. */
export function parseTrafficForecast(payload: unknown): Required<Omit<TrafficForecastInput, 'season'>> & { season?: number } {
  const r = new PayloadReader('traffic.forecast', payload);
  const junction = r.string('junction');
  const counts = r.numberArray('counts', { minLength: 4, min: 0 });
  const horizon = r.optionalNumber('horizon', { min: 1, max: MAX_HORIZON, integer: true }) ?? 4;
  const season = r.optionalNumber('season', { min: 2, max: MAX_SERIES_LENGTH, integer: true });
  const intervalMinutes = r.optionalNumber('intervalMinutes', { min: 1, max: 1440 }) ?? 60;
  return season === undefined ? { junction, counts, horizon, intervalMinutes } : { junction, counts, horizon, season, intervalMinutes };
}

/**
 * The whole traffic.forecast computation: Holt-Winters when a season is given and there are at
 * least two seasons of counts, Holt otherwise; forecasts clamped at 0 and rounded to 2 decimals.
 */
export function trafficForecast(input: TrafficForecastInput, opts: { onStep?: StepCallback } = {}): TrafficForecastResult {
  const p = parseTrafficForecast(input);
  const seasonal = p.season !== undefined && p.counts.length >= 2 * p.season;
  const fit = seasonal ? holtWintersForecast(p.counts, p.season!, p.horizon, opts) : holtForecast(p.counts, p.horizon, opts);
  const forecast = fit.forecast.map((v) => round(Math.max(0, v), 2));
  const params = fit.gamma === undefined ? { alpha: fit.alpha, beta: fit.beta } : { alpha: fit.alpha, beta: fit.beta, gamma: fit.gamma };
  return {
    junction: p.junction,
    model: fit.model,
    forecast,
    params,
    mae: round(fit.mae, 3),
    signalPlan: signalPlan(forecast, { intervalMinutes: p.intervalMinutes }),
  };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new MeshError('ABORTED', 'aborted');
}

export const trafficForecastAgent: AgentDefinition = {
  description: 'Forecasts vehicle counts at a junction (Holt / Holt-Winters) and sizes its green time.',
  run: (payload: unknown, ctx: AgentContext) => {
    const input = parseTrafficForecast(payload);
    ctx.progress(5, 'payload checked');
    const result = trafficForecast(input, {
      onStep: (done, total) => {
        throwIfAborted(ctx.signal);
        ctx.progress(5 + Math.round((90 * done) / total), `grid search ${done}/${total}`);
      },
    });
    ctx.data.put(`forecast/${result.junction}`, { forecast: result.forecast, at: ctx.now() });
    ctx.progress(100, `${result.model} forecast written`);
    return result;
  },
};
