// The Controls card: scenarios (submitted through the demo server to the peers' APIs), partition
// into groups and heal (every peer blocks the peers outside its group), and kill -9 / restart from
// the Peers table. Each action shows its outcome under the buttons.

import { api, type ScenarioJson } from './api.js';
import { $, badge, esc, setHtml } from './format.js';

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

export function renderControls(names: string[], scenarios: ScenarioJson[]): void {
  const pSel = $<HTMLSelectElement>('partition-groups');
  setHtml(pSel, partitionOptions(names).map((o) => `<option value="${esc(JSON.stringify(o.groups))}">${esc(o.label)}</option>`).join(''));
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

async function act(resultEl: HTMLElement, button: HTMLButtonElement | null, busyText: string, fn: () => Promise<{ message?: string }>, after: () => void): Promise<void> {
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
    after();
  }
}

export function wireControls(after: () => void): void {
  $('scenario-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const kind = $<HTMLSelectElement>('scenario-kind').value;
    const rate = Number($<HTMLInputElement>('scenario-rate').value);
    const seconds = Number($<HTMLInputElement>('scenario-seconds').value);
    const peer = $<HTMLSelectElement>('scenario-peer').value;
    const faulty = Number($<HTMLInputElement>('scenario-faulty').value || 0) / 100;
    void act($('scenario-result'), $<HTMLButtonElement>('scenario-submit'), `submitting ${kind}…`, () => api.scenario({ kind, rate, seconds, faulty, ...(peer ? { peer } : {}) }), after);
  });
  $('partition-btn').addEventListener('click', () => {
    const groups = JSON.parse($<HTMLSelectElement>('partition-groups').value || '[]') as string[][];
    void act($('control-result'), $<HTMLButtonElement>('partition-btn'), 'partitioning…', () => api.partition(groups), after);
  });
  $('heal-btn').addEventListener('click', () => {
    void act($('control-result'), $<HTMLButtonElement>('heal-btn'), 'healing…', () => api.heal(), after);
  });
  $('peers-table').addEventListener('click', (ev) => {
    const b = (ev.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    if (!b) return;
    const name = b.dataset.name!;
    if (b.dataset.action === 'kill') void act($('control-result'), b, `killing ${name} (SIGKILL)…`, () => api.kill(name), after);
    if (b.dataset.action === 'restart') void act($('control-result'), b, `restarting ${name}…`, () => api.restart(name), after);
  });
}
