// The task page: a panel over the dashboard (its address is #task=ID, so a reload or a shared link
// opens it again) with everything `agentmesh get ID` shows: state and why it waits, payload,
// options, a small graph of its dependencies and dependents, the inputs it gets from them, the
// result, every attempt (peer, start, end, duration, error), duplicate runs and why, and the
// timeline of its facts. Retry (dead tasks) and Cancel (unfinished ones) act through the page's peer.

import { api, type TaskPageJson } from './api.js';
import { $, badge, esc, fmtMs, setHtml, stamp, summarize } from './format.js';

let current: string | null = null;
let lastJson: TaskPageJson | null = null;
let loading = false;

export function openTaskId(): string | null {
  return current;
}

export function openTask(id: string): void {
  current = id;
  if (location.hash !== `#task=${encodeURIComponent(id)}`) history.replaceState(null, '', `#task=${encodeURIComponent(id)}`);
  lastJson = null;
  $('task-page').hidden = false;
  setHtml($('task-body'), '<div class="empty">loading…</div>');
}

export function closeTask(): void {
  current = null;
  lastJson = null;
  $('task-page').hidden = true;
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
}

/** The task named in the address (#task=ID), if any. */
export function taskFromHash(): string | null {
  const m = /^#task=(.+)$/.exec(location.hash);
  return m ? decodeURIComponent(m[1]!) : null;
}

function graph(t: TaskPageJson): string {
  const deps = t.dependencies ?? [];
  const outs = t.dependents ?? [];
  if (deps.length === 0 && outs.length === 0) return '<div class="hint">no dependencies, no dependents</div>';
  const node = (x: { id: string; state: string; type: string }, cls = '') => `<div class="gnode st-${esc(x.state)} ${cls}" data-id="${esc(x.id)}" title="${esc(x.id)}"><b>${esc(x.type || '?')}</b><span class="mono">${esc(x.id.length > 18 ? `…${x.id.slice(-12)}` : x.id)}</span><span>${esc(x.state)}</span></div>`;
  const col = (list: { id: string; state: string; type: string }[], label: string) => `<div class="gcol"><div class="hint">${label}</div>${list.map((x) => node(x, 'clickable')).join('') || '<div class="hint">none</div>'}</div>`;
  return `<div class="graph" data-testid="task-graph">${col(deps, 'depends on')}<div class="garrow">→</div><div class="gcol"><div class="hint">this task</div>${node({ id: t.id, state: t.state, type: t.type }, 'self')}</div><div class="garrow">→</div>${col(outs, 'dependents')}</div>`;
}

function render(t: TaskPageJson): void {
  const actions = [
    t.state === 'dead' ? `<button class="primary" data-testid="task-retry" data-task-action="retry">Retry</button>` : '',
    t.state !== 'done' && t.state !== 'dead' && t.state !== 'cancelled' && !t.archived ? `<button class="danger" data-testid="task-cancel" data-task-action="cancel">Cancel</button>` : '',
  ].join(' ');
  const s = t.spec;
  const opts = s
    ? [`priority ${s.priority}`, `max attempts ${s.maxAttempts}`, s.timeoutMs ? `timeout ${fmtMs(s.timeoutMs)}` : '', s.delayMs ? `delay ${fmtMs(s.delayMs)}` : '', s.exclusive ? 'exclusive (quorum)' : '', s.key ? `key ${s.key}` : '', s.requires.length ? `requires ${s.requires.join(', ')}` : '', `strategy ${s.strategy}`].filter(Boolean).join(' · ')
    : '';
  const runs = (t.runs ?? [])
    .map(
      (r) =>
        `<tr data-testid="task-run"><td class="num">${r.round}</td><td>${esc(r.name)}</td><td>${r.start ? esc(stamp(r.start)) : ''}</td><td>${r.end ? esc(stamp(r.end)) : ''}</td><td class="num">${fmtMs(r.ms)}</td><td class="st-${r.outcome === 'done' ? 'done' : r.outcome === 'failed' || r.outcome === 'expired' ? 'dead' : 'running'}">${esc(r.outcome)}${r.canonical ? ' ' + badge('result', 'ok') : ''}${r.duplicate ? ' ' + badge('duplicate', 'warn') : ''}${r.permanent ? ' ' + badge('permanent', 'bad', 'the agent said retrying cannot help') : ''}</td><td class="caps">${esc(r.error ?? '')}</td></tr>`,
    )
    .join('');
  const dups = (t.duplicateRuns ?? []).map((d) => `<li><b>${esc(d.name)}</b>, round ${d.round}, ${fmtMs(d.ms)}: ${esc(d.why)}</li>`).join('');
  const timeline = (t.timeline ?? []).map((e) => `<tr data-kind="${esc(e.kind)}"><td class="mono hint">${esc(stamp(e.at))}</td><td><span class="tl tl-${esc(e.kind)}">${esc(e.kind)}</span></td><td class="caps">${esc(e.text)}</td></tr>`).join('');
  const result = t.state === 'done' ? `<div><b>${esc(summarize(t.type, t.result))}</b></div><pre>${esc(JSON.stringify(t.result, null, 2).slice(0, 4000))}</pre>` : t.error ? `<div style="color:var(--bad)"><b>${esc(t.error)}</b>${t.deadReason ? ` (dead: ${esc(t.deadReason)})` : ''}</div>` : '<div class="hint">no result yet</div>';
  setHtml(
    $('task-body'),
    `<div class="task-head" data-testid="task-head" data-id="${esc(t.id)}" data-state="${esc(t.state)}">
       <h2 class="mono">${esc(t.id)}</h2>
       <div><b>${esc(t.type)}</b> · <span class="st-${esc(t.state)}"><b>${esc(t.state)}</b></span>${t.archived ? ' · ' + badge('archived', 'muted', 'left the live document; from the peer’s archive') : ''} · attempts ${t.attempts}${t.createdAt ? ` · submitted ${esc(stamp(t.createdAt))}${s ? ` through ${esc(s.createdByName ?? s.createdBy.slice(-8))}` : ''}` : ''} ${actions}</div>
       ${t.waiting ? `<div class="waiting" data-testid="task-waiting" data-reason="${esc(t.waiting.reason)}">why it waits: ${esc(t.waiting.message)}</div>` : ''}
       <div class="result" id="task-action-result" data-testid="task-action-result"></div>
     </div>
     <div class="task-grid">
       <section><h3>Payload</h3><pre>${esc(JSON.stringify(t.payload ?? null, null, 2).slice(0, 4000))}</pre><div class="hint">${esc(opts)}</div></section>
       <section><h3>Result</h3>${result}</section>
       <section class="wide"><h3>Dependencies</h3>${graph(t)}${t.inputs && Object.keys(t.inputs).length ? `<h4>Inputs from dependencies</h4><pre>${esc(JSON.stringify(t.inputs, null, 2).slice(0, 3000))}</pre>` : ''}</section>
       <section class="wide"><h3>Attempts</h3><table class="grid" data-testid="task-runs"><tr><th class="num">round</th><th>peer</th><th>start</th><th>end</th><th class="num">took</th><th>outcome</th><th>error</th></tr>${runs || '<tr><td colspan="7" class="empty">not started</td></tr>'}</table>
         ${dups ? `<h4>Duplicate runs</h4><ul class="dups" data-testid="task-dups">${dups}</ul>` : ''}</section>
       <section class="wide"><h3>Timeline <span class="hint">every fact of the task, by the writer's clock</span></h3><table class="grid timeline" data-testid="task-timeline">${timeline}</table></section>
     </div>`,
  );
}

/** Fetches the open task through `peer` and redraws it (every poll while it is open). */
export async function refreshTask(peer: string | null): Promise<void> {
  const id = current;
  if (!id || !peer || loading) return;
  loading = true;
  try {
    const t = await api.task(peer, id);
    if (current !== id) return;
    if (JSON.stringify(t) !== JSON.stringify(lastJson)) {
      lastJson = t;
      render(t);
    }
  } catch (e) {
    if (current === id && !lastJson) setHtml($('task-body'), `<div class="result err" data-testid="task-error">✕ ${esc((e as Error).message)}</div>`);
  } finally {
    loading = false;
  }
}

export function wireTaskPage(peer: () => string | null, onOpen: (id: string) => void): void {
  $('task-close').addEventListener('click', () => closeTask());
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && current) closeTask();
  });
  $('task-page').addEventListener('click', (ev) => {
    const target = ev.target as HTMLElement;
    if (target.id === 'task-page') return closeTask();
    const node = target.closest('.gnode.clickable') as HTMLElement | null;
    if (node?.dataset.id) return onOpen(node.dataset.id);
    const b = target.closest('button[data-task-action]') as HTMLButtonElement | null;
    if (!b || !current || !peer()) return;
    const action = b.dataset.taskAction!;
    const id = current;
    const out = () => document.getElementById('task-action-result');
    b.disabled = true;
    const via = peer()!;
    (action === 'retry' ? api.retry(via, id) : api.cancel(via, id))
      .then(() => {
        const el = out();
        if (el) {
          el.className = 'result ok';
          el.textContent = `✓ ${action === 'retry' ? 'revived: it runs again' : 'cancelled'}`;
        }
        lastJson = null;
        void refreshTask(via);
      })
      .catch((e: unknown) => {
        const el = out();
        if (el) {
          el.className = 'result err';
          el.textContent = `✕ ${(e as Error).message}`;
        }
        b.disabled = false;
      });
  });
}
