// The peer sets V8's heap growing factor at startup (cli/heap-growth.ts) so a busy peer's RSS
// stays near twice its live heap instead of growing to four times it. These tests check that the
// setting really changes how far the heap grows (in a child process, same workload with and
// without it) and that a value given to node itself wins.

import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { heapGrowthGivenToNode } from '../src/cli/heap-growth.js';

const MODULE = fileURLToPath(new URL('../dist/cli/heap-growth.js', import.meta.url));

// Keeps ~60 arrays of 20k small objects alive while allocating 400 of them: live heap ~100 MB,
// garbage ~6x that. Prints the largest heapTotal seen and what applyHeapGrowth answered.
const WORKLOAD = `
const { applyHeapGrowth } = await import(${JSON.stringify(MODULE)});
const answer = applyHeapGrowth(Number(process.argv[1]));
const keep = [];
let max = 0;
for (let r = 0; r < 400; r++) {
  const arr = [];
  for (let i = 0; i < 20000; i++) arr.push({ a: 'x' + i + r, b: [i, r, i * 2] });
  keep.push(arr);
  if (keep.length > 60) keep.shift();
  max = Math.max(max, process.memoryUsage().heapTotal);
}
console.log(JSON.stringify({ answer, maxHeapTotal: max }));
`;

function run(percent: number, nodeArgs: string[] = []): { answer: unknown; maxHeapTotal: number } {
  const out = execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', WORKLOAD, String(percent)], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('heap growth', () => {
  it('a growing factor set at startup keeps the heap far smaller than V8 left alone', () => {
    const v8Default = run(0);
    const limited = run(30);
    expect(v8Default.answer).toBe('v8');
    expect(limited.answer).toBe(30);
    expect(limited.maxHeapTotal).toBeLessThan(v8Default.maxHeapTotal * 0.7);
  }, 60_000);

  it('a --heap-growing-percent given to node wins', () => {
    const r = run(30, ['--heap-growing-percent=300']);
    expect(r.answer).toBe('node');
  }, 60_000);

  it('recognises the flag in execArgv and NODE_OPTIONS, in both spellings', () => {
    expect(heapGrowthGivenToNode([], '')).toBe(false);
    expect(heapGrowthGivenToNode(['--heap-growing-percent=50'], '')).toBe(true);
    expect(heapGrowthGivenToNode([], '--max-old-space-size=100 --heap_growing_percent=20')).toBe(true);
    expect(heapGrowthGivenToNode(['--heap-growing-percent-x=1'], '--heap-growing')).toBe(false);
  });
});
