// The Peers card: each peer with its own figures (from its /api/status: capacity, load, runs
// finished), alive or away as the page's peer sees it (a peer that runs and answers but that the
// page's peer cannot hear is "unreachable from here", with its own last figures), the process
// state, and who sees whom as a matrix and a graph. A partition is shown whatever made it: the
// page's buttons, `agentmesh partition`, or the network itself (groups of peers that see each other).

import type { DemoStatus, PeerStatusJson } from './api.js';
import { $, badge, esc, int, setHtml, time } from './format.js';

/** One word for a peer that is away, everywhere (the CLI's `status` says the same). */
export const AWAY = 'away';
export const UNREACHABLE = 'unreachable from here';

export interface PeersContext {
  demo: DemoStatus | null;
  via: string | null;
  names: string[];
  colorOf: (name: string) => string;
  now: number;
}

/** A peer's own status now, or the last one it gave (and when), while it does not answer. */
export function figures(demo: DemoStatus | null, name: string): { st: PeerStatusJson; at: number | null } | undefined {
  const st = demo?.status[name];
  if (st && !st.error && Array.isArray(st.peers)) return { st, at: null };
  const last = demo?.lastKnown?.[name];
  return last ? { st: last.status, at: last.at } : undefined;
}

/** Does `a` see `b` alive, by a's own /api/status? undefined when a's view is unavailable. */
export function sees(demo: DemoStatus | null, a: string, b: string): boolean | undefined {
  const st = demo?.status[a];
  if (!st || st.error || !Array.isArray(st.peers)) return undefined;
  return st.peers.find((p) => p.name === b)?.alive ?? false;
}

export type PeerWord = 'alive' | typeof AWAY | typeof UNREACHABLE | 'unknown';

/** How the page's peer sees `name`. */
export function wordFor(ctx: PeersContext, name: string): PeerWord {
  if (name === ctx.via) return ctx.demo?.status[name] && !ctx.demo.status[name]!.error ? 'alive' : AWAY;
  const v = ctx.via ? sees(ctx.demo, ctx.via, name) : undefined;
  if (v === true) return 'alive';
  const own = ctx.demo?.status[name];
  if (own && !own.error) return UNREACHABLE;
  if (v === undefined && !figures(ctx.demo, name)) return 'unknown';
  return AWAY;
}

export interface Split {
  groups: string[][];
  /** What made it: blocks set through the API (the page or `agentmesh partition`), or the network. */
  cause: 'blocked' | 'network' | null;
  blocks: string[];
}

/** Groups of running peers that see each other; more than one group is a partition. */
export function detectSplit(demo: DemoStatus | null, names: string[]): Split {
  const up = names.filter((n) => demo?.status[n] && !demo.status[n]!.error);
  const parent = new Map(up.map((n) => [n, n]));
  const find = (n: string): string => (parent.get(n) === n ? n : find(parent.get(n)!));
  for (const a of up) for (const b of up) if (a < b && sees(demo, a, b) && sees(demo, b, a)) parent.set(find(a), find(b));
  const groups = new Map<string, string[]>();
  for (const n of up) {
    const r = find(n);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r)!.push(n);
  }
  const blocks: string[] = [];
  for (const n of up) {
    const b = demo!.status[n]!.blockedNames ?? [];
    if (b.length) blocks.push(`${n} blocks ${b.join(', ')}`);
  }
  const list = [...groups.values()].sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return { groups: list, cause: list.length > 1 ? (blocks.length > 0 ? 'blocked' : 'network') : blocks.length > 0 ? 'blocked' : null, blocks };
}

export function renderPeers(ctx: PeersContext): void {
  const { demo, names } = ctx;
  const rows = names.map((name) => {
    const dp = demo?.peers.find((p) => p.name === name);
    const f = figures(demo, name);
    const self = f?.st.self;
    const word = wordFor(ctx, name);
    const proc = dp?.state ?? 'unknown';
    const procBadge = proc === 'running' ? '' : proc === 'starting' ? ` ${badge('starting', 'warn')}` : ` ${badge(proc, 'bad', 'the process, as the demo server sees it')}`;
    const seen =
      word === 'alive'
        ? badge('alive', 'ok')
        : word === UNREACHABLE
          ? badge(UNREACHABLE, 'warn', `${name} runs and answers, but ${ctx.via} does not hear from it: a partition. Its figures are its own.`)
          : word === AWAY
            ? badge(AWAY, 'bad', `${ctx.via} has not heard from ${name} within the lease`)
            : badge('unknown', 'muted');
    const caps = self ? [...self.capabilities].sort().map((c) => `<span class="chip">${esc(c)}</span>`).join(' ') : '';
    const stale = f?.at ? `<div class="hint" data-testid="last-known" title="${esc(name)} does not answer now; these are its last figures">last known ${time(f.at)}</div>` : '';
    const blocked = f?.st.blockedNames?.length ? `blocks ${f.st.blockedNames.join(', ')}` : '';
    const via = ctx.via === name ? ' <span class="page-tag" title="this page reads the mesh through this peer">◆ page</span>' : '';
    const actions =
      proc === 'running'
        ? `<button class="danger" data-action="kill" data-name="${esc(name)}" data-testid="kill-${esc(name)}" title="kill -9">Kill</button>`
        : proc === 'starting'
          ? `<button disabled>Starting…</button>`
          : `<button data-action="restart" data-name="${esc(name)}" data-testid="restart-${esc(name)}">Restart</button>`;
    const id = self?.peerId ?? dp?.peerId ?? '';
    return `<tr data-testid="peer-row" data-name="${esc(name)}" data-alive="${word === 'alive'}" data-word="${esc(word)}" data-process="${esc(proc)}" data-done="${self?.counters.done ?? ''}">
      <td><span class="dot" style="background:${ctx.colorOf(name)}"></span> <b>${esc(name)}</b>${via}<div class="mono hint" title="${esc(id)}">${esc(id ? `…${id.slice(-10)}` : '')}</div></td>
      <td class="caps">${caps}</td>
      <td class="num">${self ? `${self.capacity}/s` : dp ? `${dp.capacity}/s` : ''}</td>
      <td class="num" title="runs and reservations now / runs it makes at once (its concurrency)">${self ? `${self.load}/${self.concurrency}` : ''}</td>
      <td class="num" title="runs this process finished since it started (a restart starts again at 0)">${self ? int(self.counters.done) : ''}${stale}</td>
      <td>${seen}${procBadge}${dp && dp.restarts > 0 ? ` <span class="hint" title="restarts">↻${dp.restarts}</span>` : ''}</td>
      <td class="hint">${esc(blocked)}</td>
      <td>${actions}</td>
    </tr>`;
  });
  setHtml($('peers-table').querySelector('tbody')!, rows.join(''));

  const head = `<tr><th title="row sees column">sees →</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>`;
  const body = names
    .map(
      (a) =>
        `<tr><th>${esc(a)}</th>${names
          .map((b) => {
            if (a === b) return '<td class="hint">·</td>';
            const s = sees(demo, a, b);
            return s === undefined ? '<td class="hint" title="no view: the peer does not answer">–</td>' : s ? '<td style="color:var(--ok)">✓</td>' : `<td style="color:var(--bad)" title="${esc(a)} does not hear from ${esc(b)}">✕</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  setHtml($('matrix'), head + body);
  const split = detectSplit(demo, names);
  const el = $('partition-text');
  el.dataset.split = String(split.groups.length > 1);
  el.dataset.cause = split.cause ?? '';
  el.textContent = !demo
    ? ''
    : split.groups.length > 1
      ? `partitioned: ${split.groups.map((g) => g.join(' ')).join('  |  ')} (${split.cause === 'blocked' ? `blocked: ${split.blocks.join('; ')}` : 'by the network: no peer blocks another'})`
      : split.blocks.length > 0
        ? `blocks set (${split.blocks.join('; ')}), the mesh still connected`
        : 'no partition: every running peer sees every other';
  renderTopology(ctx, split);
}

function renderTopology(ctx: PeersContext, split: Split): void {
  const { names, demo } = ctx;
  const n = names.length;
  const cx = 130;
  const cy = 110;
  const r = n <= 1 ? 0 : 78;
  const pos = names.map((_, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
    return { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
  });
  const groupOf = (name: string) => (split.groups.length > 1 ? split.groups.findIndex((g) => g.includes(name)) : -1);
  let edges = '';
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = names[i]!;
      const b = names[j]!;
      const ab = sees(demo, a, b);
      const ba = sees(demo, b, a);
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
      const dp = demo?.peers.find((x) => x.name === name);
      const up = dp ? dp.state === 'running' : true;
      const fill = up ? ctx.colorOf(name) : '#c9ccd6';
      const g = groupOf(name);
      const ring = g >= 0 ? `<circle cx="${p.x}" cy="${p.y}" r="27" fill="none" stroke="${['#3b5bdb', '#e8590c', '#2b8a3e', '#862e9c'][g % 4]}" stroke-width="2" stroke-dasharray="3 3"/>` : '';
      const cap = figures(demo, name)?.st.self?.capacity ?? dp?.capacity;
      const here = ctx.via === name ? `<text x="${p.x}" y="${p.y + 40}" text-anchor="middle" font-size="10" fill="#3b5bdb">◆ page</text>` : '';
      return `${ring}<circle cx="${p.x}" cy="${p.y}" r="21" fill="${fill}" stroke="#fff" stroke-width="2"/><text x="${p.x}" y="${p.y - 1}" text-anchor="middle" fill="#fff" font-size="12" font-weight="700">${esc(name)}</text><text x="${p.x}" y="${p.y + 11}" text-anchor="middle" fill="#fff" font-size="9">${up ? `${cap ?? '?'}/s` : 'down'}</text>${here}`;
    })
    .join('');
  setHtml($('topology'), `${edges}${nodes}`);
}
