// The dashboard's charts, drawn by uPlot: tasks/s per peer against T(s), data items/s per peer
// against D(s) (points from the peers' metrics rings, rates.ts), and the latest traffic forecast of
// a junction. Each chart follows its container's width and is rebuilt only when its set of series
// changes (a peer joins). `data-points` on the container says how many points it shows.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Point } from './rates.js';

export const PEER_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#e15759', '#76b7b2', '#edc948', '#9c755f', '#bab0ac'];

function sized(el: HTMLElement, height: number): { width: number; height: number } {
  return { width: Math.max(260, el.clientWidth - 8), height };
}

abstract class AutoChart {
  protected plot: uPlot | null = null;
  private key = '';

  constructor(protected readonly el: HTMLElement, protected readonly height: number) {
    new ResizeObserver(() => this.plot?.setSize(sized(this.el, this.height))).observe(el);
  }

  protected ensure(key: string, make: () => Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData): void {
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.key = key;
    this.plot = new uPlot({ ...sized(this.el, this.height), ...make() }, data, this.el);
  }
}

const axisStyle = { stroke: '#556', grid: { stroke: '#e6e8ee', width: 1 }, ticks: { stroke: '#d0d4de', width: 1 } };

/** Tasks/s or items/s per peer, with the measured sum, the model and (for tasks) the prediction. */
export class RateChart extends AutoChart {
  constructor(
    el: HTMLElement,
    private readonly kind: 'tasks' | 'items',
  ) {
    super(el, 230);
  }

  update(points: Point[], names: string[]): void {
    this.el.dataset.points = String(points.length);
    if (points.length === 0) return;
    const ids = names;
    const per = (p: Point, id: string) => {
      const r = p.perPeer.get(id);
      return r ? (this.kind === 'tasks' ? r.tasks : r.items) : null;
    };
    const data: (number | null)[][] = [points.map((p) => p.t)];
    for (const id of ids) data.push(points.map((p) => per(p, id)));
    data.push(points.map((p) => (this.kind === 'tasks' ? p.measuredT : p.measuredD)));
    data.push(points.map((p) => (this.kind === 'tasks' ? p.modelT : p.modelD)));
    if (this.kind === 'tasks') data.push(points.map((p) => p.predictedT));
    const unit = this.kind === 'tasks' ? 'tasks/s' : 'items/s';
    const sym = this.kind === 'tasks' ? 'T' : 'D';
    this.ensure(
      `${this.kind}:${ids.join(',')}`,
      () => ({
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil((max * 1.1) / 5) * 5)] } },
        axes: [
          { ...axisStyle, space: 70, incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300], values: (_u, vals) => vals.map((v) => new Date(v * 1000).toLocaleTimeString([], { hour12: false })) },
          { ...axisStyle, label: unit, size: 50 },
        ],
        series: [
          {},
          ...names.map((n, i) => ({ label: n, stroke: PEER_COLORS[i % PEER_COLORS.length]!, width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '-' : v.toFixed(1)) })),
          { label: `${sym} measured`, stroke: '#1b1f2a', width: 2.5, value: (_u: uPlot, v: number | null) => (v === null ? '-' : v.toFixed(1)) },
          { label: `${sym} model (Σ capacity${this.kind === 'items' ? ' × items/task' : ''})`, stroke: '#c0392b', width: 2, dash: [8, 5], value: (_u: uPlot, v: number | null) => (v === null ? '-' : v.toFixed(0)) },
          ...(this.kind === 'tasks' ? [{ label: 'predicted (T with a backlog, else min(offered, T))', stroke: '#8e44ad', width: 1.5, dash: [2, 4], value: (_u: uPlot, v: number | null) => (v === null ? '-' : v.toFixed(1)) }] : []),
        ],
      }),
      data as uPlot.AlignedData,
    );
  }
}

/** The latest forecast of one junction: observed counts, then the forecast hours. */
export class ForecastChart extends AutoChart {
  constructor(el: HTMLElement) {
    super(el, 190);
  }

  update(junction: string, counts: number[], forecast: number[]): void {
    const hist = counts.slice(-24);
    const n = hist.length + forecast.length;
    const xs = Array.from({ length: n }, (_, i) => i - hist.length + 1);
    const observed: (number | null)[] = [...hist, ...forecast.map(() => null)];
    // The forecast line starts at the last observation so the two lines join.
    const fc: (number | null)[] = [...hist.map((_, i) => (i === hist.length - 1 ? hist[i]! : null)), ...forecast];
    this.ensure(
      'forecast',
      () => ({
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
        axes: [{ ...axisStyle, label: 'hours from now', values: (_u, vals) => vals.map((v) => (v > 0 ? `+${v}` : String(v))) }, { ...axisStyle, label: 'veh/h', size: 50 }],
        series: [{}, { label: 'observed', stroke: '#4e79a7', width: 2 }, { label: 'forecast', stroke: '#e15759', width: 2.5, dash: [6, 4], points: { show: true, size: 5 } }],
      }),
      [xs, observed, fc] as uPlot.AlignedData,
    );
    this.el.dataset.junction = junction;
  }
}
