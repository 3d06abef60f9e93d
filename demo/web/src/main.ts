// The dashboard page. It reads the mesh through one peer at a time (the "page's peer": ?peer=P2
// or the header's selector; another running peer when it goes down), over that peer's own HTTP API
// passed through the demo server: counts, the task table, task pages, dead letters and shared data
// all cover the peer's live document and its archive, so they stay true across archival and
// generations. Every peer's own /api/status (through the demo server) gives its figures and its
// view of who is alive; each peer's metrics ring gives the charts their history, so a reload keeps
// them. Rendering is plain DOM, once a second; charts are uPlot.

import { api, type DataJson, type DemoStatus, type ListResult, type MetricsSample, type ScenarioJson } from './api.js';
import { ForecastChart, PEER_COLORS, RateChart } from './charts.js';
import { $, bytes, esc, fmt, int, pct, setHtml, time } from './format.js';
import { figures, renderPeers } from './peers-view.js';
import { itemsPerTask, points, shares, type PeerSeries } from './rates.js';
import { closeTask, openTask, openTaskId, refreshTask, taskFromHash, wireTaskPage } from './task-page.js';
import { PAGE, STATES, listParams, renderCounts, renderData, renderDead, renderDups, renderReplicas, renderTable, type TableQuery } from './tasks-view.js';
import { wireControls, renderControls } from './controls.js';

// ---- state ----------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
let preferred: string | null = params.get('peer');
let via: string | null = null;
let conn: 'connecting' | 'synced' | 'lost' = 'connecting';
let demo: DemoStatus | null = null;
let demoError: string | null = null;
let scenarios: ScenarioJson[] = [];
const query: TableQuery = { text: '', state: '', type: '', sort: 'created', asc: false, offset: 0 };
let list: ListResult | null = null;
let listError: string | null = null;
let dead: ListResult | null = null;
let deadOffset = 0;
let dups: ListResult | null = null;
let data: DataJson | null = null;
const rings = new Map<string, MetricsSample[]>();
const tasksChart = new RateChart($('chart-tasks'), 'tasks');
const itemsChart = new RateChart($('chart-items'), 'items');
const forecastChart = new ForecastChart($('chart-forecast'));
let forecastId: string | null = null;

declare global {
  interface Window {
    agentmesh: { demo: () => DemoStatus | null; via: () => string | null; list: () => ListResult | null; rings: () => Map<string, MetricsSample[]> };
  }
}
window.agentmesh = { demo: () => demo, via: () => via, list: () => list, rings: () => rings };

function names(): string[] {
  return [...new Set((demo?.peers ?? []).map((p) => p.name))].sort();
}

function colorOf(name: string): string {
  const i = names().indexOf(name);
  return PEER_COLORS[(i < 0 ? 0 : i) % PEER_COLORS.length]!;
}

const answers = (name: string): boolean => {
  const st = demo?.status[name];
  return !!st && !st.error && Array.isArray(st.peers);
};

/** The page's peer: the preferred one while it answers, else the first running one that does. */
function chooseVia(): void {
  const before = via;
  if (preferred && answers(preferred)) via = preferred;
  else if (!via || !answers(via)) via = names().find(answers) ?? via;
  conn = via && answers(via) ? 'synced' : demo ? 'lost' : 'connecting';
  if (via !== before) {
    list = null;
    dead = null;
    dups = null;
    data = null;
  }
}

// ---- header, banner, model ------------------------------------------------------------------------

function renderConn(): void {
  $('conn-dot').className = `dot ${conn}`;
  const lostWhy = via ? `${via} does not answer` : 'no peer answers';
  $('conn-text').textContent = conn === 'synced' ? `live: reading the mesh through ${via}` : conn === 'connecting' ? 'connecting…' : `showing the last state: ${lostWhy}`;
  $('conn-text').dataset.state = conn;
  $('conn-text').dataset.peer = via ?? '';
  const sel = $<HTMLSelectElement>('conn-peer');
  setHtml(sel, names().map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join(''));
  if (document.activeElement !== sel && via) sel.value = via;
  const st = via ? figures(demo, via)?.st : undefined;
  const doc = st?.doc;
  const docEl = $('doc-info');
  docEl.dataset.generation = String(st?.generation?.n ?? '');
  docEl.textContent = st ? `generation ${st.generation?.n ?? '?'} · live document ${bytes(doc?.bytes)} (${int(doc?.tasks ?? 0)} tasks) · archive ${bytes(doc?.archiveBytes)} (${int(st.archived?.total ?? 0)} tasks)` : '';
  const banner = $('banner');
  const msgs: string[] = [];
  if (conn === 'lost') msgs.push(`Showing the last state: ${lostWhy}.`);
  if (demoError) msgs.push(`Demo server unreachable (${demoError}): controls and the peers' own views are unavailable.`);
  banner.hidden = msgs.length === 0;
  banner.textContent = msgs.join(' ');
}

function series(): PeerSeries[] {
  return names()
    .filter((n) => (rings.get(n)?.length ?? 0) > 0)
    .map((n) => ({ name: n, capacity: figures(demo, n)?.st.self?.capacity ?? demo?.peers.find((p) => p.name === n)?.capacity ?? 0, samples: rings.get(n)! }));
}

function renderModel(now: number): void {
  const ser = series();
  const pts = points(ser, via, now);
  tasksChart.update(pts, names());
  itemsChart.update(pts, names());
  const last = pts.at(-1);
  const up = names().filter((n) => demo?.peers.find((p) => p.name === n)?.state === 'running');
  const cap = (n: string) => figures(demo, n)?.st.self?.capacity ?? demo?.peers.find((p) => p.name === n)?.capacity ?? 0;
  const T = up.reduce((a, n) => a + cap(n), 0);
  const perTask = (n: string) => itemsPerTask(rings.get(n) ?? []);
  const D = up.reduce((a, n) => a + cap(n) * perTask(n), 0);
  const recent = pts.slice(-5);
  const avg = (f: (p: (typeof pts)[number]) => number | null) => {
    const xs = recent.map(f).filter((x): x is number => x !== null);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  };
  const offered = avg((p) => p.offered);
  const predicted = last?.backlog ? T : Math.min(offered, T);
  setHtml(
    $('model-table'),
    `<tr><th></th><th class="num" title="what the peers that are up can do">model</th><th class="num" title="T while tasks wait, else min(offered load, T)">predicted now</th><th class="num" title="average of the last 10 s">measured</th></tr>
     <tr><td><b>T</b> tasks/s</td><td class="num" data-testid="model-T">${fmt(T, 0)}</td><td class="num" data-testid="predicted-T">${fmt(predicted)}</td><td class="num" data-testid="measured-T">${fmt(avg((p) => p.measuredT))}</td></tr>
     <tr><td><b>D</b> items/s</td><td class="num" data-testid="model-D">${fmt(D, 0)}</td><td class="num">${fmt(predicted * (T > 0 ? D / T : 1))}</td><td class="num" data-testid="measured-D">${fmt(avg((p) => p.measuredD))}</td></tr>
     <tr><td colspan="4" class="hint">offered load now: ${fmt(offered)} tasks/s (tasks arriving, as ${esc(via ?? '?')} counts them)${last?.backlog ? '; tasks are waiting, so the mesh can work at T' : ''}</td></tr>`,
  );
  const sh = shares(ser, 10);
  setHtml(
    $('share-table'),
    `<tr><th>peer</th><th class="num" title="capacity: tasks/s it takes on">Pᵢ</th><th class="num" title="its share of T">Pᵢ/T</th><th class="num" title="data items each of its tasks wrote (measured)">items/task</th><th class="num" title="Pᵢ × items/task: data items/s at capacity">dᵢ</th><th class="num" title="tasks/s it finished, last 10 s">tasks/s</th><th class="num" title="its share of the tasks finished in the last 10 s">share 10 s</th></tr>${names()
      .map((n) => {
        const upNow = up.includes(n);
        const r = last?.perPeer.get(n);
        return `<tr data-testid="share-row" data-name="${esc(n)}"><td><span class="dot" style="background:${colorOf(n)}"></span> ${esc(n)}${upNow ? '' : ' <span class="hint">down</span>'}</td><td class="num">${cap(n)}</td><td class="num">${upNow && T > 0 ? pct(cap(n) / T) : '–'}</td><td class="num">${fmt(perTask(n), 2)}</td><td class="num">${upNow ? fmt(cap(n) * perTask(n)) : '–'}</td><td class="num">${r ? fmt(r.tasks) : '–'}</td><td class="num">${pct(sh.get(n) ?? 0)}</td></tr>`;
      })
      .join('')}`,
  );
}

// ---- polling --------------------------------------------------------------------------------------

let polling = false;
async function pollDemo(): Promise<void> {
  if (polling) return;
  polling = true;
  try {
    const [st, sc] = await Promise.all([api.status(), api.scenarios()]);
    demo = st;
    scenarios = sc.scenarios;
    demoError = null;
  } catch (e) {
    demoError = (e as Error).message;
  } finally {
    polling = false;
    chooseVia();
  }
}

let listing = false;
async function pollLists(): Promise<void> {
  if (listing || !via || conn !== 'synced') return;
  listing = true;
  const peer = via;
  const q = listParams(query);
  try {
    const [l, d, u] = await Promise.all([
      api.list(peer, q),
      api.list(peer, new URLSearchParams({ state: 'dead', sort: 'created', order: 'desc', limit: '10', offset: String(deadOffset) })),
      api.list(peer, new URLSearchParams({ duplicated: '1', sort: 'created', order: 'desc', limit: '10' })),
    ]);
    if (peer !== via || q.toString() !== listParams(query).toString()) return;
    list = l;
    dead = d;
    dups = u;
    listError = null;
  } catch (e) {
    listError = (e as Error).message;
  } finally {
    listing = false;
  }
}

async function pollMetrics(): Promise<void> {
  await Promise.all(
    names()
      .filter((n) => demo?.peers.find((p) => p.name === n)?.state === 'running')
      .map(async (n) => {
        const ring = rings.get(n) ?? [];
        try {
          const m = await api.metrics(n, ring.at(-1)?.t ?? 0);
          const next = ring.concat(m.samples.filter((s) => s.t > (ring.at(-1)?.t ?? 0)));
          rings.set(n, next.length > 900 ? next.slice(-900) : next);
        } catch {
          /* the peer is down: its history stays */
        }
      }),
  );
}

async function pollData(): Promise<void> {
  if (!via || conn !== 'synced') return;
  try {
    data = await api.data(via);
  } catch {
    /* keep the last */
  }
  try {
    const latest = await api.list(via, new URLSearchParams({ type: 'traffic.forecast', state: 'done', sort: 'finished', order: 'desc', limit: '1' }));
    const id = latest.tasks[0]?.id;
    if (id && id !== forecastId) {
      const t = await api.task(via, id);
      const p = t.payload as { junction?: string; counts?: number[] };
      const res = t.result as { forecast?: number[]; model?: string; mae?: number; signalPlan?: { greenSeconds?: number } };
      if (Array.isArray(p?.counts) && Array.isArray(res?.forecast)) {
        forecastId = id;
        $('forecast-title').textContent = `${p.junction ?? '?'}: ${res.model ?? ''} forecast of the next ${res.forecast.length} h (MAE ${fmt(res.mae ?? NaN)}), green ${res.signalPlan?.greenSeconds ?? '?'} s of 90; by ${t.peer ?? '?'}${t.archived ? ' (archived)' : ''}`;
        forecastChart.update(p.junction ?? '', p.counts, res.forecast);
      }
    }
  } catch {
    /* keep the last */
  }
}

// ---- render ---------------------------------------------------------------------------------------

function render(): void {
  const now = Date.now();
  const errors: string[] = [];
  const part = (name: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
      console.error(`dashboard: rendering ${name} failed`, e);
    }
  };
  const ctx = { demo, via, names: names(), colorOf, now };
  part('connection', renderConn);
  part('peers', () => renderPeers(ctx));
  part('controls', () => renderControls(names(), scenarios));
  const st = via ? figures(demo, via)?.st : undefined;
  part('counts', () => renderCounts(st?.tasks, st?.duplicateRuns, st?.archived?.total));
  part('tasks', () => renderTable(list, query, st?.agentTypes ?? [], now, listError));
  part('dead letters', () => renderDead(dead, deadOffset));
  part('duplicates', () => renderDups(dups, st?.duplicateRuns ?? 0));
  part('replicas', () => renderReplicas(demo, names()));
  part('model', () => renderModel(now));
  part('data', () => renderData(data, now));
  $('footer').textContent = errors.length ? `render errors: ${errors.join('; ')}` : `updated ${time(now)} · through ${via ?? '–'}${demo ? ` · demo server ${time(demo.at)}` : ''}`;
}

// ---- wiring ---------------------------------------------------------------------------------------

function wireTable(): void {
  const stateSel = $<HTMLSelectElement>('f-state');
  stateSel.innerHTML = `<option value="">all</option>${STATES.map((s) => `<option value="${s}">${s}</option>`).join('')}`;
  let typing: number | undefined;
  const changed = () => {
    query.offset = 0;
    list = null;
    render();
    void pollLists().then(render);
  };
  $('f-text').addEventListener('input', () => {
    clearTimeout(typing);
    typing = window.setTimeout(() => {
      query.text = $<HTMLInputElement>('f-text').value.trim();
      changed();
    }, 250);
  });
  $('f-state').addEventListener('change', () => {
    query.state = stateSel.value;
    changed();
  });
  $('f-type').addEventListener('change', () => {
    query.type = $<HTMLSelectElement>('f-type').value;
    changed();
  });
  $('tasks').querySelector('thead')!.addEventListener('click', (ev) => {
    const th = (ev.target as HTMLElement).closest('th[data-sort]') as HTMLElement | null;
    if (!th) return;
    if (query.sort === th.dataset.sort) query.asc = !query.asc;
    else {
      query.sort = th.dataset.sort!;
      query.asc = query.sort === 'type' || query.sort === 'peer' || query.sort === 'id' || query.sort === 'state';
    }
    changed();
  });
  const page = (d: number) => {
    query.offset = Math.max(0, query.offset + d * PAGE);
    list = null;
    render();
    void pollLists().then(render);
  };
  $('page-prev').addEventListener('click', () => page(-1));
  $('page-next').addEventListener('click', () => page(1));
  const openFrom = (ev: Event) => {
    const row = (ev.target as HTMLElement).closest('[data-id].clickable') as HTMLElement | null;
    if (row?.dataset.id) show(row.dataset.id);
  };
  for (const id of ['tasks', 'dead', 'dups']) $(id).addEventListener('click', openFrom);
  $('dead').addEventListener('click', (ev) => {
    const b = (ev.target as HTMLElement).closest('button') as HTMLButtonElement | null;
    if (!b) return;
    if (b.dataset.deadPage) {
      deadOffset = Math.max(0, deadOffset + Number(b.dataset.deadPage) * 10);
      void pollLists().then(render);
    }
    if (b.id === 'retry-all-dead' && via) {
      b.disabled = true;
      b.textContent = 'Retrying…';
      void api
        .retryDead(via)
        .then((r) => {
          $('control-result').className = 'result ok';
          $('control-result').textContent = `✓ revived ${r.retried.length} dead tasks${r.failed.length ? `; ${r.failed.length} could not be: ${r.failed[0]!.error}` : ''}`;
        })
        .catch((e: unknown) => {
          $('control-result').className = 'result err';
          $('control-result').textContent = `✕ ${(e as Error).message}`;
        })
        .finally(() => void pollLists().then(render));
    }
  });
  $('conn-peer').addEventListener('change', () => {
    preferred = $<HTMLSelectElement>('conn-peer').value;
    const u = new URL(location.href);
    u.searchParams.set('peer', preferred);
    history.replaceState(null, '', u.toString());
    chooseVia();
    void pollLists().then(render);
  });
}

function show(id: string): void {
  openTask(id);
  void refreshTask(via);
}

wireControls(() => void pollDemo().then(render));
wireTable();
wireTaskPage(() => via, show);
window.addEventListener('hashchange', () => {
  const id = taskFromHash();
  if (id && id !== openTaskId()) show(id);
  if (!id && openTaskId()) closeTask();
});
void (async () => {
  await pollDemo();
  await pollMetrics();
  render();
  await pollLists();
  const fromHash = taskFromHash();
  if (fromHash) show(fromHash);
  render();
  void pollData().then(render);
})();
setInterval(() => void pollDemo(), 1000);
setInterval(() => void pollLists(), 1500);
setInterval(() => void pollMetrics(), 2000);
setInterval(() => void pollData(), 3000);
setInterval(() => void refreshTask(via), 1500);
setInterval(render, 1000);
