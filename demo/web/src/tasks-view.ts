// The task views, all from the page's peer's API (live document and archive alike): counts by
// state, the task table (search, filters, sortable columns, pages of 50 through every task),
// dead letters (paged, each opens its task page, "retry all"), duplicate runs, the replicas table
// (each peer's own counts, or its last known ones), and the shared data per namespace.

import type { DataJson, DemoStatus, ListResult, ListRow } from './api.js';
import { $, ago, badge, esc, fmtMs, int, setHtml, summarize } from './format.js';
import { figures } from './peers-view.js';

export const STATES = ['pending', 'claimed', 'running', 'done', 'dead', 'cancelled'] as const;
export const PAGE = 50;

export interface TableQuery {
  text: string;
  state: string;
  type: string;
  sort: string;
  asc: boolean;
  offset: number;
}

export function listParams(q: TableQuery): URLSearchParams {
  const p = new URLSearchParams();
  if (q.text) p.set('q', q.text);
  if (q.state) p.set('state', q.state);
  if (q.type) p.set('type', q.type);
  p.set('sort', q.sort);
  p.set('order', q.asc ? 'asc' : 'desc');
  p.set('limit', String(PAGE));
  p.set('offset', String(q.offset));
  return p;
}

export function renderCounts(tasks: Record<string, number> | undefined, dups: number | undefined, archived: number | undefined): void {
  const t = tasks ?? {};
  const total = Object.values(t).reduce((a, b) => a + b, 0);
  const cells = STATES.map((st) => `<div class="count"><div class="n st-${st}" data-testid="count-${st}" data-value="${t[st] ?? 0}">${int(t[st] ?? 0)}</div><div class="l">${st}</div></div>`);
  cells.push(`<div class="count" title="successful runs other than the canonical one (e.g. both sides of a partition ran a task)"><div class="n" data-testid="count-duplicates" data-value="${dups ?? 0}">${int(dups ?? 0)}</div><div class="l">duplicate runs</div></div>`);
  cells.push(`<div class="count" title="every task the page's peer knows: its live document and its archive, each once"><div class="n" data-testid="count-total" data-value="${total}">${int(total)}</div><div class="l">tasks in all${archived ? ` (${int(archived)} archived)` : ''}</div></div>`);
  setHtml($('counts'), cells.join(''));
}

const shortId = (id: string): string => (id.length > 26 ? `${id.slice(0, 25)}…` : id);

function rowHtml(r: ListRow, now: number): string {
  const dur = r.finishedAt && r.createdAt ? fmtMs(r.finishedAt - r.createdAt) : r.createdAt && (r.state === 'running' || r.state === 'claimed' || r.state === 'pending') ? `${fmtMs(now - r.createdAt)}…` : '';
  const note = r.state === 'dead' || r.state === 'cancelled' ? `<span style="color:var(--bad)">${esc(r.error ?? '')}</span>` : r.key ? `<span class="hint">key ${esc(r.key)}</span>` : '';
  const dup = r.duplicates ? ` ${badge(`+${r.duplicates} dup`, 'warn', 'duplicate runs: open the task to see why')}` : '';
  const arch = r.archived ? ` <span class="chip" title="left the live document; kept in the peer's archive">archived</span>` : '';
  return `<tr data-testid="task-row" data-id="${esc(r.id)}" data-state="${esc(r.state)}" data-created="${r.createdAt ?? ''}" class="clickable"><td class="mono" title="${esc(r.id)}">${esc(shortId(r.id))}</td><td>${esc(r.type)}</td><td class="st-${esc(r.state)}"><b>${esc(r.state)}</b>${dup}${arch}</td><td>${esc(r.peer ?? '')}</td><td class="hint" title="${r.createdAt ? esc(new Date(r.createdAt).toISOString()) : ''}">${r.createdAt ? esc(ago(now - r.createdAt)) : ''}</td><td class="num">${r.attempts}</td><td class="num" title="from submission to the end">${dur}</td><td class="res">${note}</td></tr>`;
}

export function renderTable(list: ListResult | null, q: TableQuery, types: string[], now: number, error: string | null): void {
  const tSel = $<HTMLSelectElement>('f-type');
  setHtml(tSel, `<option value="">all</option>${types.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join('')}`);
  if (document.activeElement !== tSel) tSel.value = q.type;
  const rows = list?.tasks ?? [];
  const info = $('page-info');
  info.dataset.offset = String(list?.offset ?? 0);
  info.dataset.total = String(list?.total ?? 0);
  info.textContent = error ? `cannot list: ${error}` : list ? (list.total === 0 ? 'no matching tasks' : `${int(list.offset + 1)}–${int(list.offset + rows.length)} of ${int(list.total)} (${int(list.live)} live, ${int(list.archived)} archived)`) : 'loading…';
  $<HTMLButtonElement>('page-prev').disabled = !list || list.offset === 0;
  $<HTMLButtonElement>('page-next').disabled = !list || list.offset + rows.length >= list.total;
  for (const th of document.querySelectorAll<HTMLElement>('#tasks th[data-sort]')) {
    const on = th.dataset.sort === q.sort;
    th.dataset.active = String(on);
    th.textContent = `${th.dataset.label}${on ? (q.asc ? ' ▲' : ' ▼') : ''}`;
  }
  setHtml($('tasks').querySelector('tbody')!, rows.map((r) => rowHtml(r, now)).join('') || `<tr><td colspan="8" class="empty">${list ? 'no matching tasks: submit a scenario, or change the filters' : 'loading…'}</td></tr>`);
}

export function renderDead(dead: ListResult | null, offset: number): void {
  const n = dead?.total ?? 0;
  const rows = dead?.tasks ?? [];
  setHtml(
    $('dead'),
    !dead
      ? '<div class="empty">loading…</div>'
      : n === 0
        ? '<div class="empty" data-testid="dead-count" data-value="0">no dead letters</div>'
        : `<div class="row"><span class="hint" data-testid="dead-count" data-value="${n}">${int(n)} dead (live and archived)</span><button data-testid="retry-all-dead" id="retry-all-dead" title="revive every dead task: each runs again with a fresh count of attempts">Retry all</button>
           <button data-testid="dead-prev" data-dead-page="-1" ${offset === 0 ? 'disabled' : ''}>‹</button><span class="hint">${offset + 1}–${offset + rows.length}</span><button data-testid="dead-next" data-dead-page="1" ${offset + rows.length >= n ? 'disabled' : ''}>›</button></div>
           <table class="grid"><tr><th>task</th><th>type</th><th>tries</th><th>last error</th></tr>${rows
             .map((r) => `<tr class="clickable" data-id="${esc(r.id)}" data-testid="dead-row"><td class="mono" title="${esc(r.id)}">${esc(r.id)}</td><td>${esc(r.type)}</td><td class="num">${r.attempts}</td><td class="caps">${esc((r.error ?? '').slice(0, 200))}</td></tr>`)
             .join('')}</table>`,
  );
}

export function renderDups(dups: ListResult | null, total: number): void {
  const rows = dups?.tasks ?? [];
  setHtml(
    $('dups'),
    !dups || dups.total === 0
      ? `<div class="empty" data-testid="dup-count" data-value="${total}">${total ? `${total} duplicate runs (loading…)` : 'no duplicate runs'}</div>`
      : `<div class="hint" data-testid="dup-count" data-value="${total}">${int(total)} duplicate runs in ${int(dups.total)} tasks; open one to see why</div><table class="grid"><tr><th>task</th><th>type</th><th>result by</th><th>dups</th></tr>${rows
          .map((r) => `<tr class="clickable" data-id="${esc(r.id)}"><td class="mono" title="${esc(r.id)}">${esc(shortId(r.id))}</td><td>${esc(r.type)}</td><td>${esc(r.peer ?? '')}</td><td class="num">${r.duplicates}</td></tr>`)
          .join('')}</table>`,
  );
}

const COLS = ['pending', 'claimed', 'running', 'done', 'dead', 'cancelled'];
const ABBR: Record<string, string> = { pending: 'pend.', claimed: 'claim.', running: 'run.', done: 'done', dead: 'dead', cancelled: 'canc.' };

/** Each peer's own counts (its live document and archive); do all that answer agree? */
export function renderReplicas(demo: DemoStatus | null, names: string[]): void {
  type Row = { name: string; total: number; counts: Record<string, number>; dups: number; digest: string; note?: string; gen?: number };
  const rows: Row[] = [];
  for (const name of names) {
    const f = figures(demo, name);
    const live = f && f.at === null;
    if (!f) {
      rows.push({ name, total: NaN, counts: {}, dups: NaN, digest: '', note: 'no answer yet' });
      continue;
    }
    const total = Object.values(f.st.tasks).reduce((a, b) => a + b, 0);
    rows.push({ name, total, counts: f.st.tasks, dups: f.st.duplicateRuns, digest: f.st.digest ?? '', gen: f.st.generation?.n, ...(live ? {} : { note: `down: last known ${new Date(f.at!).toLocaleTimeString([], { hour12: false })}` }) });
  }
  const key = (r: Row) => JSON.stringify([r.total, ...COLS.map((c) => r.counts[c] ?? 0), r.dups]);
  const answering = rows.filter((r) => !r.note);
  const digests = new Set(answering.map((r) => r.digest).filter(Boolean));
  const agree = answering.length > 1 && answering.every((r) => key(r) === key(answering[0]!)) && digests.size <= 1;
  const html = `<tr><th>peer</th><th class="num">tasks</th>${COLS.map((c) => `<th class="num" title="${c}">${ABBR[c]}</th>`).join('')}<th class="num" title="duplicate runs">dups</th><th class="num" title="document generation">gen</th><th title="fingerprint of every live task id and state">digest</th></tr>${rows
    .map((r) =>
      Number.isNaN(r.total)
        ? `<tr data-testid="replica-row" data-name="${esc(r.name)}"><td>${esc(r.name)}</td><td colspan="${COLS.length + 4}" class="hint">${esc(r.note ?? '')}</td></tr>`
        : `<tr data-testid="replica-row" data-name="${esc(r.name)}" data-total="${r.total}" data-done="${r.counts.done ?? 0}" data-dead="${r.counts.dead ?? 0}" data-digest="${esc(r.digest)}" data-stale="${r.note ? 'true' : 'false'}"${r.note ? ' class="stale"' : ''}><td>${esc(r.name)}${r.note ? `<div class="hint">${esc(r.note)}</div>` : ''}</td><td class="num">${int(r.total)}</td>${COLS.map((c) => `<td class="num st-${c}">${int(r.counts[c] ?? 0)}</td>`).join('')}<td class="num">${r.dups}</td><td class="num">${r.gen ?? ''}</td><td class="mono">${r.digest ? esc(r.digest.slice(0, 6)) : '…'}</td></tr>`,
    )
    .join('')}`;
  setHtml($('replicas'), html);
  const el = $('agree');
  el.dataset.agree = String(agree);
  setHtml(
    el,
    agree
      ? `${badge('✓', 'ok')} all ${answering.length} peers agree: the same ${int(answering[0]!.total)} tasks in the same states`
      : answering.length < 2
        ? `${badge('…', 'muted')} fewer than two peers answer`
        : `${badge('…', 'warn')} the peers' views differ (a partition, or sync under way)`,
  );
}

function dataValue(ns: string, v: unknown): string {
  const o = (v ?? {}) as Record<string, unknown>;
  if (ns === 'traffic.forecast' && Array.isArray(o.forecast)) return `${(o.forecast as number[]).map((x) => Math.round(x)).join(' → ')} veh/h`;
  if (ns === 'factory.anomaly' && typeof o.status === 'string') {
    const k = o.status === 'alarm' ? 'bad' : o.status === 'warn' ? 'warn' : 'ok';
    return `${badge(o.status, k)} max |z| ${Number(o.maxScore).toFixed(1)}`;
  }
  if (ns === 'clinic.triage' && typeof o.score === 'number') {
    const k = o.risk === 'high' ? 'bad' : o.risk === 'medium' || o.risk === 'low-medium' ? 'warn' : 'ok';
    return `NEWS2 <b>${o.score}</b> ${badge(String(o.risk), k)}`;
  }
  const s = JSON.stringify(v);
  return esc(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

export function renderData(data: DataJson | null, now: number): void {
  if (!data) return;
  const nss = Object.keys(data.namespaces).sort();
  const html = nss
    .map((ns) => {
      const list = data.entries.filter((e) => e.namespace === ns);
      const rows = list
        .slice(0, 10)
        .map((e) => `<tr><td class="mono">${esc(e.key)}</td><td>${dataValue(ns, e.value)}</td><td>${esc(e.byName ?? e.by.slice(-6))}</td><td class="hint">${esc(ago(now - e.at))}</td></tr>`)
        .join('');
      return `<div data-testid="data-ns" data-ns="${esc(ns)}" data-count="${data.namespaces[ns]}"><h3>${esc(ns)} <span class="hint">${int(data.namespaces[ns]!)} keys</span></h3><table class="grid">${rows}</table></div>`;
    })
    .join('');
  setHtml($('data'), html || '<div class="empty">no shared data yet: agents write here as they finish tasks</div>');
}

export { summarize };
