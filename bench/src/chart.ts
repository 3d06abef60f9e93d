// Why: the README wants a picture of the scale and latency figures; vega-lite renders SVG
// headless (renderer 'none', no canvas), so the chart is made from the same JSON as the table.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Results } from './report.js';

type Spec = vl.TopLevelSpec;

export async function renderSvg(r: Results): Promise<string> {
  const lat: { system: string; load: string; stat: string; ms: number }[] = [];
  for (const sys of ['agentmesh', 'bullmq'] as const) {
    const s = r.details[sys];
    if (!s) continue;
    for (const [load, v] of [['unloaded', s.latency], ['50% load', s.loaded]] as const) {
      if (!v) continue;
      lat.push({ system: sys, load, stat: 'p50', ms: v.p50Ms }, { system: sys, load, stat: 'p99', ms: v.p99Ms });
    }
  }
  const scale = r.scale.flatMap((p) => [
    { peers: p.peers, metric: 'throughput (tasks/s)', value: p.throughput },
    { peers: p.peers, metric: 'p99 submit-to-start (ms)', value: p.p99Ms },
    { peers: p.peers, metric: 'sync bytes per task', value: p.bytesPerTask },
  ]);
  const panels: Spec[] = [];
  if (lat.length) {
    panels.push({
      title: 'Submit-to-start latency',
      data: { values: lat },
      mark: 'bar',
      encoding: {
        x: { field: 'stat', type: 'nominal', title: null },
        xOffset: { field: 'system' },
        y: { field: 'ms', type: 'quantitative', title: 'ms', scale: { type: 'symlog' } },
        color: { field: 'system', type: 'nominal' },
        column: { field: 'load', type: 'nominal', title: null },
        tooltip: [{ field: 'ms' }],
      },
      width: 140,
      height: 200,
    } as Spec);
  }
  if (scale.length) {
    panels.push({
      title: 'agentmesh as the mesh grows',
      data: { values: scale },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'peers', type: 'quantitative', title: 'peers', axis: { values: r.scale.map((p) => p.peers) } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: true } },
        column: { field: 'metric', type: 'nominal', title: null },
      },
      resolve: { scale: { y: 'independent' } },
      width: 180,
      height: 200,
    } as Spec);
  }
  const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', vconcat: panels, config: { font: 'sans-serif' } } as unknown as Spec;
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
