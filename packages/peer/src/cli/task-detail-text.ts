// The readable task page of `agentmesh get ID` (without --json): what task-detail.ts gathers, as
// lines a person reads top to bottom. No imports beyond types, so the CLI stays quick to start.

import type { TaskDetail } from './task-detail.js';

const fmtTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** The readable page of `agentmesh get` (without --json). */
export function taskDetailText(t: { id: string; type: string; state: string; result: unknown; attempts: number; peer: string | null; error?: string; archived?: boolean; createdAt?: number } & Partial<TaskDetail>): string {
  const lines: string[] = [];
  lines.push(`${t.id}  ${t.type}  ${t.state.toUpperCase()}${t.deadReason ? ` (${t.deadReason})` : ''}${t.archived ? '  [archived]' : ''}`);
  if (t.waiting) lines.push(`  why waiting: ${t.waiting.message}`);
  if (t.createdAt !== undefined) lines.push(`  submitted  ${fmtTime(t.createdAt)}${t.spec ? ` through ${t.spec.createdByName ?? t.spec.createdBy}` : ''}`);
  if (t.spec) {
    const s = t.spec;
    const opts = [`priority ${s.priority}`, `max attempts ${s.maxAttempts}`, s.timeoutMs ? `timeout ${s.timeoutMs} ms` : '', s.delayMs ? `delay ${s.delayMs} ms` : '', s.exclusive ? 'exclusive' : '', s.key ? `key ${s.key}` : '', s.requires.length ? `requires ${s.requires.join(',')}` : '', `strategy ${s.strategy}`].filter(Boolean);
    lines.push(`  options    ${opts.join(', ')}`);
  }
  if (t.payload !== undefined) lines.push(`  payload    ${clip(JSON.stringify(t.payload))}`);
  if (t.dependencies?.length) lines.push(`  depends on ${t.dependencies.map((d) => `${d.id} (${d.state})`).join(', ')}`);
  if (t.inputs && Object.keys(t.inputs).length) lines.push(`  inputs     ${clip(JSON.stringify(t.inputs))}`);
  if (t.dependents?.length) lines.push(`  dependents ${t.dependents.map((d) => `${d.id} (${d.state})`).join(', ')}`);
  lines.push(`  result     ${t.state === 'done' ? clip(JSON.stringify(t.result)) : '-'}${t.peer ? `  (by ${t.peer})` : ''}`);
  if (t.error !== undefined && t.state !== 'done') lines.push(`  error      ${t.error}`);
  lines.push(`  attempts   ${t.attempts}`);
  for (const r of t.runs ?? []) {
    const when = r.start !== null ? fmtTime(r.start) : '?';
    const dur = r.ms !== null ? `${r.ms} ms` : r.outcome;
    const tag = r.canonical ? ' (result)' : r.duplicate ? ' (duplicate)' : '';
    lines.push(`    round ${r.round}  ${r.name.padEnd(8)} ${when}  ${dur.padStart(9)}  ${r.outcome}${tag}${r.error ? `: ${r.error}` : ''}`);
  }
  if (t.duplicateRuns?.length) {
    lines.push(`  duplicate runs ${t.duplicateRuns.length}:`);
    for (const d of t.duplicateRuns) lines.push(`    ${d.name} round ${d.round}: ${d.why}`);
  }
  if (t.timeline?.length) {
    lines.push('  timeline');
    for (const e of t.timeline) lines.push(`    ${fmtTime(e.at)}  ${e.kind.padEnd(9)} ${e.text}`);
  }
  return lines.join('\n');
}

function clip(s: string | undefined, n = 300): string {
  if (s === undefined) return 'undefined';
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}
