// The dashboard page. It is a peer of the mesh in the sense that matters here: it holds its own Yjs
// replica of the document (replica.ts) and derives everything it shows from it with the peers' own
// rules (derive.ts, throughput.ts). Only what a replica cannot know comes from the demo server:
// each peer's own view of who is alive (/demo/status) and the controls (kill, restart, partition,
// heal, scenarios). Rendering is plain DOM, refreshed once a second; charts are uPlot.

import { TASK_STATES, type TaskState } from '@agentmesh/scheduler';
import { boardDigest } from '@agentmesh/peer';
import { api, type DemoPeer, type DemoStatus, type ScenarioJson } from './api.js';
import { ForecastChart, PEER_COLORS, RateChart } from './charts.js';
import { Deriver, summarize, type BoardSnapshot, type TaskRow } from './derive.js';
import { Replica } from './replica.js';
import { Throughput, type Point } from './throughput.js';

// ---- helpers --------------------------------------------------------------------------------------

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Replaces an element's HTML only when it changed (keeps focus, hover and clicks stable). */
const lastHtml = new WeakMap<Element, string>();
function setHtml(el: Element, html: string): void {
  if (lastHtml.get(el) === html) return;
  lastHtml.set(el, html);
  el.innerHTML = html;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

const fmtMs = (ms: number | null): string => (ms === null ? '' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const shortId = (id: string): string => (id.length > 14 ? `…${id.slice(-8)}` : id);

function badge(text: string, kind: 'ok' | 'bad' | 'warn' | 'muted'): string {
  return `<span class="badge b-${kind}">${esc(text)}</span>`;
}

// ---- state ----------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const replica = new Replica(params.get('peer'));
const deriver = new Deriver(replica.board);
const throughput = new Throughput(replica.board);
const tasksChart = new RateChart($('chart-tasks'), 'tasks');
const itemsChart = new RateChart($('chart-items'), 'items');
const forecastChart = new ForecastChart($('chart-forecast'));

let demo: DemoStatus | null = null;
let demoError: string | null = null;
let scenarios: ScenarioJson[] = [];
let snap: BoardSnapshot | null = null;
let point: Point | null = null;

declare global {
  interface Window {
    agentmesh: { replica: Replica; snapshot: () => BoardSnapshot | null; demo: () => DemoStatus | null };
  }
}
window.agentmesh = { replica, snapshot: () => snap, demo: () => demo };

function peerNames(): string[] {
  const names = new Set<string>();
  for (const p of demo?.peers ?? []) names.add(p.name);
  for (const p of replica.board.peers()) names.add(p.name);
  return [...names].sort();
}

function colorOf(name: string): string {
  const i = peerNames().indexOf(name);
  return PEER_COLORS[(i < 0 ? 0 : i) % PEER_COLORS.length]!;
}

// ---- header and banner ----------------------------------------------------------------------------

function renderConn(): void {
  const c = replica.conn;
  $('conn-dot').className = `dot ${c.state}`;
  const text =
    c.state === 'synced' ? `live: synced via ${c.peer}` : c.state === 'connecting' ? `connecting to ${c.peer ?? '…'}` : `read-only: ${c.peer ?? 'no peer'} unreachable`;
  $('conn-text').textContent = text;
  $('conn-text').dataset.state = c.state;
  $('conn-text').dataset.peer = c.peer ?? '';
  const sel = $<HTMLSelectElement>('conn-peer');
  const names = peerNames();
  setHtml(sel, names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join(''));
  if (document.activeElement !== sel && c.peer) sel.value = c.peer;
  const banner = $('banner');
  const msgs: string[] = [];
  if (c.state === 'lost' && c.reason) msgs.push(`Read-only: ${c.reason}.`);
  if (demoError) msgs.push(`Demo server unreachable (${demoError}): controls and the peers' own views are unavailable.`);
  banner.hidden = msgs.length === 0;
  banner.textContent = msgs.join(' ');
}

// ---- peers ----------------------------------------------------------------------------------------

function demoPeer(name: string): DemoPeer | undefined {
  return demo?.peers.find((p) => p.name === name);
}

/** Does `a` see `b` alive, by a's own /api/status? undefined when a's view is unavailable. */
function sees(a: string, b: string): boolean | undefined {
  const st = demo?.status[a];
  if (!st || st.error || !Array.isArray(st.peers)) return undefined;
  return st.peers.find((p) => p.name === b)?.alive ?? false;
}

function renderPeers(now: number): void {
  const board = replica.board;
  const names = peerNames();
  const rows = names.map((name) => {
    const info = board.peers().find((p) => p.name === name);
    const dp = demoPeer(name);
    const beat = info ? board.beat(info.id) : undefined;
    const alive = info ? deriver.alive(info.id, now) : false;
    const proc = dp?.state ?? 'unknown';
    const procBadge = proc === 'running' ? badge('running', 'ok') : proc === 'starting' ? badge('starting', 'warn') : badge(proc, 'bad');
    const seen = !info ? badge('unknown', 'muted') : alive ? badge('alive', 'ok') : badge('left', 'bad');
    const caps = info ? [...info.capabilities].sort().map((c) => `<span class="chip">${esc(c)}</span>`).join(' ') : '';
    const blocked = dp?.blocked.length ? `blocks ${dp.blocked.join(', ')}` : '';
    const via = replica.conn.peer === name ? ' <span class="page-tag" title="this page syncs through this peer">◆ page</span>' : '';
    const actions =
      proc === 'running'
        ? `<button class="danger" data-action="kill" data-name="${esc(name)}" data-testid="kill-${esc(name)}" title="kill -9">Kill</button>`
        : proc === 'starting'
          ? `<button disabled>Starting…</button>`
          : `<button data-action="restart" data-name="${esc(name)}" data-testid="restart-${esc(name)}">Restart</button>`;
    return `<tr data-testid="peer-row" data-name="${esc(name)}" data-alive="${alive}" data-process="${esc(proc)}">
      <td><span class="dot" style="background:${colorOf(name)}"></span> <b>${esc(name)}</b>${via}<div class="mono hint" title="${esc(info?.id ?? dp?.peerId ?? '')}">${esc(shortId(info?.id ?? dp?.peerId ?? ''))}</div></td>
      <td class="caps">${caps}</td>
      <td class="num">${info ? `${info.capacity}/s` : ''}</td>
      <td class="num">${beat ? `${beat.load}/${info?.concurrency ?? '?'}` : ''}</td>
      <td class="num">${beat?.done ?? ''}</td>
      <td>${seen}${proc === 'running' ? '' : ` ${procBadge}`}${dp && dp.restarts > 0 ? ` <span class="hint" title="restarts">↻${dp.restarts}</span>` : ''}</td>
      <td class="hint">${esc(blocked)}</td>
      <td>${actions}</td>
    </tr>`;
  });
  setHtml($('peers-table').querySelector('tbody')!, rows.join(''));

  // Who sees whom, as each peer reports it.
  const head = `<tr><th>sees →</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>`;
  const body = names
    .map(
      (a) =>
        `<tr><th>${esc(a)}</th>${names
          .map((b) => {
            if (a === b) return '<td class="hint">·</td>';
            const s = sees(a, b);
            return s === undefined ? '<td class="hint" title="no view: the peer is down">–</td>' : s ? '<td style="color:var(--ok)">✓</td>' : '<td style="color:var(--bad)">✕</td>';
          })
          .join('')}</tr>`,
    )
    .join('');
  setHtml($('matrix'), head + body);
  const part = demo?.partition;
  $('partition-text').textContent = part ? `partitioned: ${part.map((g) => g.join(' ')).join('  |  ')}` : demo ? 'no partition: every peer may reach every other' : '';
  renderTopology(names);
}

function renderTopology(names: string[]): void {
  const n = names.length;
  const cx = 130;
  const cy = 110;
  const r = n <= 1 ? 0 : 78;
  const pos = names.map((_, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
    return { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
  });
  const groupOf = (name: string) => demo?.partition?.findIndex((g) => g.includes(name)) ?? -1;
  let edges = '';
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = names[i]!;
      const b = names[j]!;
      const ab = sees(a, b);
      const ba = sees(b, a);
      if (ab === undefined && ba === undefined) continue;
      const both = ab !== false && ba !== false && (ab || ba);
      const one = !both && (ab || ba);
      const style = both ? 'stroke="#2e9e5b" stroke-width="3"' : one ? 'stroke="#d98b1e" stroke-width="2" stroke-dasharray="6 4"' : 'stroke="#c0392b" stroke-width="1.5" stroke-dasharray="2 5"';
      const p = pos[i]!;
      const q = pos[j]!;
      edges += `<line x1="${p.x}" y1="${p.y}" x2="${q.x}" y2="${q.y}" ${style}><title>${esc(a)} ${ab ? 'sees' : 'does not see'} ${esc(b)}; ${esc(b)} ${ba ? 'sees' : 'does not see'} ${esc(a)}</title></line>`;
      if (!both && !one) edges += `<text x="${(p.x + q.x) / 2}" y="${(p.y + q.y) / 2 + 4}" text-anchor="middle" fill="#c0392b" font-size="13" font-weight="700">✕</text>`;
    }
  }
  const nodes = names
    .map((name, i) => {
      const p = pos[i]!;
      const dp = demoPeer(name);
      const up = dp ? dp.state === 'running' : true;
      const fill = up ? colorOf(name) : '#c9ccd6';
      const g = groupOf(name);
      const ring = g >= 0 ? `<circle cx="${p.x}" cy="${p.y}" r="27" fill="none" stroke="${['#3b5bdb', '#e8590c', '#2b8a3e', '#862e9c'][g % 4]}" stroke-width="2" stroke-dasharray="3 3"/>` : '';
      const cap = replica.board.peers().find((x) => x.name === name)?.capacity ?? dp?.capacity;
      const here = replica.conn.peer === name ? `<text x="${p.x}" y="${p.y + 40}" text-anchor="middle" font-size="10" fill="#3b5bdb">◆ page</text>` : '';
      return `${ring}<circle cx="${p.x}" cy="${p.y}" r="21" fill="${fill}" stroke="#fff" stroke-width="2"/><text x="${p.x}" y="${p.y - 1}" text-anchor="middle" fill="#fff" font-size="12" font-weight="700">${esc(name)}</text><text x="${p.x}" y="${p.y + 11}" text-anchor="middle" fill="#fff" font-size="9">${up ? `${cap ?? '?'}/s` : 'down'}</text>${here}`;
    })
    .join('');
  setHtml($('topology'), `${edges}${nodes}`);
}

// ---- controls -------------------------------------------------------------------------------------

function partitionOptions(names: string[]): { label: string; groups: string[][] }[] {
  const out: { label: string; groups: string[][] }[] = [];
  if (names.length < 2) return out;
  // Each peer cut off alone, then the first half against the rest, then everyone alone.
  for (let i = names.length - 1; i >= 0; i--) {
    const alone = names[i]!;
    const rest = names.filter((x) => x !== alone);
    out.push({ label: `${rest.join(' ')} | ${alone}`, groups: [rest, [alone]] });
  }
  if (names.length > 3) {
    const half = Math.ceil(names.length / 2);
    out.push({ label: `${names.slice(0, half).join(' ')} | ${names.slice(half).join(' ')}`, groups: [names.slice(0, half), names.slice(half)] });
  }
  if (names.length > 2) out.push({ label: names.join(' | '), groups: names.map((x) => [x]) });
  return out;
}

function renderControls(): void {
  const names = peerNames();
  const pSel = $<HTMLSelectElement>('partition-groups');
  const opts = partitionOptions(names);
  setHtml(pSel, opts.map((o) => `<option value="${esc(JSON.stringify(o.groups))}">${esc(o.label)}</option>`).join(''));
  const sSel = $<HTMLSelectElement>('scenario-peer');
  setHtml(sSel, `<option value="">every live peer</option>${names.map((n) => `<option value="${esc(n)}">${esc(n)} only</option>`).join('')}`);
  const list = scenarios
    .slice(-5)
    .reverse()
    .map((s) => {
      const pp = Object.entries(s.perPeer)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const st = s.running ? badge('running', 'warn') : s.failed > 0 ? badge('ended with errors', 'bad') : badge('submitted', 'ok');
      return `<li data-testid="scenario-item" data-id="${esc(s.id)}" data-running="${s.running}" data-submitted="${s.submitted}">${esc(s.id)} ${esc(s.kind)} ${s.rate}/s × ${s.seconds} s${s.peer ? ` → ${esc(s.peer)}` : ''}: ${st} ${s.submitted}/${s.total} acknowledged${pp ? ` (${esc(pp)})` : ''}${s.failed ? `, <b style="color:var(--bad)">${s.failed} failed</b>: ${esc(s.lastError ?? '')}` : ''}</li>`;
    })
    .join('');
  setHtml($('scenario-list'), list);
}

async function act(resultEl: HTMLElement, button: HTMLButtonElement | null, busyText: string, fn: () => Promise<{ message?: string }>): Promise<void> {
  resultEl.className = 'result busy';
  resultEl.textContent = busyText;
  resultEl.dataset.state = 'busy';
  if (button) button.disabled = true;
  try {
    const r = await fn();
    resultEl.className = 'result ok';
    resultEl.textContent = `✓ ${r.message ?? 'done'}`;
    resultEl.dataset.state = 'ok';
  } catch (e) {
    resultEl.className = 'result err';
    resultEl.textContent = `✕ ${(e as Error).message}`;
    resultEl.dataset.state = 'error';
  } finally {
    if (button) button.disabled = false;
    void pollDemo();
  }
}

function wireControls(): void {
  $('scenario-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const kind = $<HTMLSelectElement>('scenario-kind').value;
    const rate = Number($<HTMLInputElement>('scenario-rate').value);
    const seconds = Number($<HTMLInputElement>('scenario-seconds').value);
    const peer = $<HTMLSelectElement>('scenario-peer').value;
    const faulty = Number($<HTMLInputElement>('scenario-faulty').value || 0) / 100;
    void act($('scenario-result'), $<HTMLButtonElement>('scenario-submit'), `submitting ${kind}…`, () => api.scenario({ kind, rate, seconds, faulty, ...(peer ? { peer } : {}) }));
  });
  $('partition-btn').addEventListener('click', () => {
    const groups = JSON.parse($<HTMLSelectElement>('partition-groups').value || '[]') as string[][];
    void act($('control-result'), $<HTMLButtonElement>('partition-btn'), 'partitioning…', () => api.partition(groups));
  });
  $('heal-btn').addEventListener('click', () => {
    void act($('control-result'), $<HTMLButtonElement>('heal-btn'), 'healing…', () => api.heal());
  });
  $('peers-table').addEventListener('click', (ev) => {
    const b = (ev.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    if (!b) return;
    const name = b.dataset.name!;
    if (b.dataset.action === 'kill') void act($('control-result'), b, `killing ${name} (SIGKILL)…`, () => api.kill(name));
    if (b.dataset.action === 'restart') void act($('control-result'), b, `restarting ${name}…`, () => api.restart(name));
  });
  $('conn-peer').addEventListener('change', () => {
    const name = $<HTMLSelectElement>('conn-peer').value;
    void act($('control-result'), null, `switching the page to ${name}…`, async () => {
      await replica.use(name);
      return { message: `this page now syncs through ${name}` };
    });
  });
  const stateSel = $<HTMLSelectElement>('f-state');
  stateSel.innerHTML = `<option value="">all</option>${TASK_STATES.map((s) => `<option value="${s}">${s}</option>`).join('')}`;
  for (const id of ['f-type', 'f-state', 'f-text']) $(id).addEventListener('input', () => snap && renderTasks(snap, Date.now()));
}

// ---- task board -----------------------------------------------------------------------------------

function renderCounts(s: BoardSnapshot): void {
  const cells = TASK_STATES.map(
    (st) => `<div class="count"><div class="n st-${st}" data-testid="count-${st}" data-value="${s.counts[st]}">${s.counts[st]}</div><div class="l">${st}</div></div>`,
  );
  cells.push(`<div class="count"><div class="n" data-testid="count-duplicates" data-value="${s.duplicateRuns}">${s.duplicateRuns}</div><div class="l">duplicate runs</div></div>`);
  cells.push(`<div class="count"><div class="n" data-testid="count-total" data-value="${s.total}">${s.total}</div><div class="l">tasks in the document</div></div>`);
  setHtml($('counts'), cells.join(''));
}

function renderTasks(s: BoardSnapshot, now: number): void {
  const tSel = $<HTMLSelectElement>('f-type');
  const cur = tSel.value;
  setHtml(tSel, `<option value="">all</option>${s.types.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join('')}`);
  tSel.value = cur;
  const fType = tSel.value;
  const fState = $<HTMLSelectElement>('f-state').value;
  const fText = $<HTMLInputElement>('f-text').value.trim().toLowerCase();
  const match = (r: TaskRow): boolean => {
    if (fType && r.type !== fType) return false;
    if (fState && r.state !== fState) return false;
    if (fText) {
      const hay = `${r.id} ${r.winner ?? ''} ${summarize(r.type, r.result)} ${JSON.stringify(r.payload).slice(0, 200)}`.toLowerCase();
      if (!hay.includes(fText)) return false;
    }
    return true;
  };
  const matching = s.rows.filter(match).sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const shown = matching.slice(0, 150);
  $('f-count').textContent = `${matching.length} matching, newest ${shown.length} shown`;
  const html = shown
    .map((r) => {
      const dur = r.state === 'running' ? `${fmtMs(r.ms)}…` : fmtMs(r.ms);
      const res = r.state === 'dead' ? `<span style="color:var(--bad)">${esc(r.lastError ?? r.deadReason ?? '')}</span>` : esc(summarize(r.type, r.result));
      const dup = r.duplicates.length ? ` ${badge(`+${r.duplicates.length} dup`, 'warn')}` : '';
      return `<tr data-state="${r.state}"><td class="mono" title="${esc(r.id)} · created ${esc(ago(now - r.createdAt))}">${esc(r.id.length > 22 ? `${r.id.slice(0, 22)}…` : r.id)}</td><td>${esc(r.type)}</td><td class="st-${r.state}"><b>${r.state}</b>${dup}</td><td>${esc(r.winner ?? '')}</td><td class="num">${r.bids}</td><td class="num">${r.attempts}</td><td class="num">${dur}</td><td class="res">${res}</td></tr>`;
    })
    .join('');
  setHtml($('tasks').querySelector('tbody')!, html || '<tr><td colspan="8" class="empty">no tasks yet: submit a scenario</td></tr>');
}

function renderDeadAndDups(s: BoardSnapshot): void {
  const dead = s.rows.filter((r) => r.state === 'dead').sort((a, b) => b.createdAt - a.createdAt);
  setHtml(
    $('dead'),
    dead.length === 0
      ? '<div class="empty" data-testid="dead-count" data-value="0">no dead letters</div>'
      : `<div class="hint" data-testid="dead-count" data-value="${dead.length}">${dead.length} dead</div><table class="grid"><tr><th>task</th><th>type</th><th>why</th><th>attempts</th><th>last error</th></tr>${dead
          .slice(0, 50)
          .map((r) => `<tr><td class="mono">${esc(shortId(r.id))}</td><td>${esc(r.type)}</td><td>${esc(r.deadReason ?? '')}</td><td class="num">${r.attempts}</td><td class="caps">${esc((r.lastError ?? '').slice(0, 160))}</td></tr>`)
          .join('')}</table>`,
  );
  const dups = s.rows.filter((r) => r.duplicates.length > 0).sort((a, b) => (b.doneAt ?? 0) - (a.doneAt ?? 0));
  setHtml(
    $('dups'),
    dups.length === 0
      ? '<div class="empty" data-testid="dup-count" data-value="0">no duplicate runs</div>'
      : `<div class="hint" data-testid="dup-count" data-value="${s.duplicateRuns}">${s.duplicateRuns} duplicate runs in ${dups.length} tasks</div><table class="grid"><tr><th>task</th><th>type</th><th>canonical</th><th>also ran on</th></tr>${dups
          .slice(0, 50)
          .map((r) => `<tr><td class="mono">${esc(shortId(r.id))}</td><td>${esc(r.type)}</td><td>${esc(r.winner ?? '')}</td><td>${esc(r.duplicates.join(', '))}</td></tr>`)
          .join('')}</table>`,
  );
}

// ---- shared data ----------------------------------------------------------------------------------

function dataValue(ns: string, v: unknown): string {
  const o = (v ?? {}) as Record<string, unknown>;
  if (ns === 'traffic.forecast' && Array.isArray(o.forecast)) return `${(o.forecast as number[]).map((x) => Math.round(x)).join(' → ')} veh/h`;
  if (ns === 'factory.anomaly' && typeof o.status === 'string') {
    const k = o.status === 'alarm' ? 'bad' : o.status === 'warn' ? 'warn' : 'ok';
    return `${badge(o.status, k)} max |z| ${fmt(Number(o.maxScore))}`;
  }
  if (ns === 'clinic.triage' && typeof o.score === 'number') {
    const k = o.risk === 'high' ? 'bad' : o.risk === 'medium' || o.risk === 'low-medium' ? 'warn' : 'ok';
    return `NEWS2 <b>${o.score}</b> ${badge(String(o.risk), k)}`;
  }
  const s = JSON.stringify(v);
  return esc(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function renderData(now: number): void {
  const all = replica.board.data();
  const byNs = new Map<string, typeof all>();
  for (const e of all) {
    let l = byNs.get(e.namespace);
    if (!l) byNs.set(e.namespace, (l = []));
    l.push(e);
  }
  const nss = [...byNs.keys()].sort();
  const html = nss
    .map((ns) => {
      const list = byNs.get(ns)!.sort((a, b) => b.at - a.at);
      const rows = list
        .slice(0, 10)
        .map((e) => `<tr><td class="mono">${esc(e.key)}</td><td>${dataValue(ns, e.value)}</td><td>${esc(deriver.name(e.by) ?? '')}</td><td class="hint">${esc(ago(now - e.at))}</td></tr>`)
        .join('');
      return `<div data-testid="data-ns" data-ns="${esc(ns)}" data-count="${list.length}"><h3>${esc(ns)} <span class="hint">${list.length} keys</span></h3><table class="grid">${rows}</table></div>`;
    })
    .join('');
  setHtml($('data'), html || '<div class="empty">no shared data yet: agents write here as they finish tasks</div>');
}

function renderForecast(s: BoardSnapshot, now: number): void {
  let best: TaskRow | undefined;
  for (const r of s.rows) if (r.type === 'traffic.forecast' && r.state === 'done' && (!best || (r.doneAt ?? 0) > (best.doneAt ?? 0))) best = r;
  if (!best) return;
  const p = best.payload as { junction?: string; counts?: number[] };
  const res = best.result as { forecast?: number[]; model?: string; mae?: number; signalPlan?: { greenSeconds?: number } };
  if (!Array.isArray(p.counts) || !Array.isArray(res?.forecast)) return;
  $('forecast-title').textContent = `${p.junction ?? '?'}: ${res.model ?? ''} forecast of the next ${res.forecast.length} h (MAE ${fmt(res.mae ?? NaN)}), green ${res.signalPlan?.greenSeconds ?? '?'} s of 90; by ${best.winner ?? '?'}, ${ago(now - (best.doneAt ?? now))}`;
  forecastChart.update(p.junction ?? '', p.counts, res.forecast);
}

// ---- model, shares, replicas ----------------------------------------------------------------------

function renderModel(s: BoardSnapshot, pt: Point): void {
  const itemsPerTask = pt.modelT > 0 ? pt.modelD / pt.modelT : 1;
  setHtml(
    $('model-table'),
    `<tr><th></th><th class="num">model</th><th class="num">predicted now</th><th class="num">measured</th></tr>
     <tr><td>T(s) tasks/s</td><td class="num" data-testid="model-T">${fmt(pt.modelT, 0)}</td><td class="num">${fmt(pt.predictedT)}</td><td class="num" data-testid="measured-T">${fmt(pt.measuredT)}</td></tr>
     <tr><td>D(s) items/s</td><td class="num" data-testid="model-D">${fmt(pt.modelD, 0)}</td><td class="num">${fmt(pt.predictedT * itemsPerTask)}</td><td class="num" data-testid="measured-D">${fmt(pt.measuredD)}</td></tr>
     <tr><td colspan="4" class="hint">offered load ${fmt(pt.offered)} tasks/s; model = capacities of live peers; predicted = min(offered, T)</td></tr>`,
  );
  const shares = throughput.shares(10);
  const live = pt.peers.filter((p) => p.alive);
  const capSum = live.reduce((a, p) => a + p.capacity, 0);
  const doneAll = [...s.donePerPeer.values()].reduce((a, b) => a + b, 0);
  setHtml(
    $('share-table'),
    `<tr><th>peer</th><th class="num">Pᵢ</th><th class="num">Pᵢ/T</th><th class="num">tasks/s</th><th class="num">share 10 s</th><th class="num">done</th><th class="num">share all</th></tr>${pt.peers
      .map(
        (p) =>
          `<tr data-testid="share-row" data-name="${esc(p.name)}"><td><span class="dot" style="background:${colorOf(p.name)}"></span> ${esc(p.name)}</td><td class="num">${p.capacity}</td><td class="num">${p.alive && capSum > 0 ? pct(p.capacity / capSum) : '–'}</td><td class="num">${fmt(p.tasksPerSec)}</td><td class="num">${pct(shares.get(p.id) ?? 0)}</td><td class="num">${s.donePerPeer.get(p.id) ?? 0}</td><td class="num">${doneAll ? pct((s.donePerPeer.get(p.id) ?? 0) / doneAll) : '–'}</td></tr>`,
      )
      .join('')}`,
  );
}

function renderReplicas(s: BoardSnapshot): void {
  const cols: TaskState[] = ['pending', 'claimed', 'running', 'done', 'dead', 'cancelled'];
  const abbr: Record<string, string> = { pending: 'pend.', claimed: 'claim.', running: 'run.', done: 'done', dead: 'dead', cancelled: 'canc.' };
  type Row = { name: string; total: number; counts: Record<string, number>; dups: number; digest: string; note?: string };
  const rows: Row[] = [];
  for (const name of peerNames()) {
    const st = demo?.status[name];
    if (!st || st.error) {
      rows.push({ name, total: NaN, counts: {}, dups: NaN, digest: '', note: st?.error ? 'no answer' : 'down' });
      continue;
    }
    const total = Object.values(st.tasks).reduce((a, b) => a + b, 0);
    rows.push({ name, total, counts: st.tasks, dups: st.duplicateRuns, digest: st.digest ?? '' });
  }
  rows.push({ name: `page (${replica.conn.peer ?? '?'})`, total: s.total, counts: s.counts, dups: s.duplicateRuns, digest: boardDigest(s.rows) });
  // Counts must match everywhere; fingerprints wherever known (a peer's comes a moment later).
  const key = (r: Row) => JSON.stringify([r.total, ...cols.map((c) => r.counts[c] ?? 0), r.dups]);
  const live = rows.filter((r) => !r.note);
  const digests = new Set(live.map((r) => r.digest).filter(Boolean));
  const agree = live.length > 1 && live.every((r) => key(r) === key(live[0]!)) && digests.size <= 1;
  const html = `<tr><th>view</th><th class="num">tasks</th>${cols.map((c) => `<th class="num" title="${c}">${abbr[c]}</th>`).join('')}<th class="num" title="duplicate runs">dups</th><th title="fingerprint of every task id and state">digest</th></tr>${rows
    .map((r) =>
      r.note
        ? `<tr data-testid="replica-row" data-name="${esc(r.name)}"><td>${esc(r.name)}</td><td colspan="${cols.length + 3}" class="hint">${esc(r.note)}</td></tr>`
        : `<tr data-testid="replica-row" data-name="${esc(r.name)}" data-total="${r.total}" data-done="${r.counts.done ?? 0}" data-digest="${esc(r.digest)}"><td>${esc(r.name)}</td><td class="num">${r.total}</td>${cols.map((c) => `<td class="num st-${c}">${r.counts[c] ?? 0}</td>`).join('')}<td class="num">${r.dups}</td><td class="mono">${r.digest ? esc(r.digest.slice(0, 6)) : '…'}</td></tr>`,
    )
    .join('')}`;
  setHtml($('replicas'), html);
  const el = $('agree');
  el.dataset.agree = String(agree);
  setHtml(el, agree ? `${badge('✓', 'ok')} all ${live.length} views agree: the same ${live[0]!.total} tasks in the same states` : `${badge('…', 'warn')} the views differ (a partition, or sync under way)`);
}

// ---- loops ----------------------------------------------------------------------------------------

function offeredRate(s: BoardSnapshot, now: number): number {
  let n = 0;
  for (const r of s.rows) if (r.createdAt > now - 4000 && r.createdAt <= now - 1000) n++;
  return n / 3;
}

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
  part('connection', renderConn);
  part('board', () => {
    snap = deriver.snapshot(now);
  });
  const s = snap;
  if (s) {
    part('throughput', () => {
      point = throughput.sample(offeredRate(s, now), now);
      tasksChart.update(throughput.points);
      itemsChart.update(throughput.points);
    });
    part('counts', () => renderCounts(s));
    part('tasks', () => renderTasks(s, now));
    part('dead letters', () => renderDeadAndDups(s));
    part('forecast', () => renderForecast(s, now));
    if (point) part('model', () => renderModel(s, point!));
    part('replicas', () => renderReplicas(s));
  }
  part('peers', () => renderPeers(now));
  part('controls', renderControls);
  part('data', () => renderData(now));
  const docKb = replica.conn.state === 'synced' ? ` · ${replica.board.taskCount} tasks, ${replica.board.dataCount} data keys in this replica` : '';
  $('footer').textContent = errors.length ? `render errors: ${errors.join('; ')}` : `updated ${new Date(now).toLocaleTimeString()}${docKb}${replica.invalid ? ` · ${replica.invalid} invalid entries ignored` : ''}`;
}

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
  }
}

wireControls();
replica.onChange = () => renderConn();
void replica.start();
void pollDemo().then(render);
setInterval(() => void pollDemo(), 1000);
setInterval(render, 1000);
