// Small helpers every part of the page shares: finding elements, escaping, replacing HTML only
// when it changed (so focus, hover and clicks stay put), badges, numbers, times and a one-line
// summary of a task's result by agent type.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

export const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const lastHtml = new WeakMap<Element, string>();
export function setHtml(el: Element, html: string): void {
  if (lastHtml.get(el) === html) return;
  lastHtml.set(el, html);
  el.innerHTML = html;
}

export function badge(text: string, kind: 'ok' | 'bad' | 'warn' | 'muted', title = ''): string {
  return `<span class="badge b-${kind}"${title ? ` title="${esc(title)}"` : ''}>${esc(text)}</span>`;
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export const fmtMs = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
export const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
export const int = (n: number): string => n.toLocaleString('en-US');
export const time = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '');
export const stamp = (ms: number): string => `${new Date(ms).toLocaleTimeString([], { hour12: false })}.${String(ms % 1000).padStart(3, '0')}`;
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '…';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** A one-line, human summary of a task's result, by agent type. */
export function summarize(type: string, result: unknown): string {
  if (result === null || result === undefined) return '';
  const r = result as Record<string, unknown>;
  try {
    if (type === 'traffic.forecast') {
      const f = (r.forecast as number[] | undefined) ?? [];
      const plan = r.signalPlan as { greenSeconds?: number } | undefined;
      return `${String(r.junction)}: ${String(r.model)} → ${f.map((x) => Math.round(x)).join(', ')} veh/h; green ${plan?.greenSeconds ?? '?'} s`;
    }
    if (type === 'factory.anomaly') {
      return `${String(r.machine)}: ${String(r.status)} (max |z| ${Number(r.maxScore).toFixed(1)}${(r.anomalies as unknown[] | undefined)?.length ? `, ${(r.anomalies as unknown[]).length} anomal.` : ''})`;
    }
    if (type === 'clinic.triage') return `${String(r.patient)}: NEWS2 ${String(r.score)}, ${String(r.risk)} risk`;
  } catch {
    /* fall through to JSON */
  }
  const s = JSON.stringify(result);
  return s.length > 90 ? `${s.slice(0, 87)}...` : s;
}
