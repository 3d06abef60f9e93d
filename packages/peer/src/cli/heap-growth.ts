// Why a peer process sets V8's heap growing factor itself: on a machine with plenty of memory V8
// lets the old generation grow up to 4x its live size between full collections, so a peer whose
// live heap is ~90 MB sat at 440-570 MB RSS after 100,000 tasks (bench:bounded). At 70% RSS was
// 259-285 MB when first set; with the peer's later work it drifted to 285-307 MB (three runs of
// four over 300 on one peer). The default, 60% (`agentmesh peer --heap-growth 60`), gave 259-288
// MB in seven runs, with burst throughput within the runs' spread (docs/performance.md,
// "2026-12-06, late morning"). It is no hard limit, so a large backlog still fits (a
// `--max-old-space-size` would crash the peer instead).
// V8 reads this flag at every full collection, so setting it at startup takes effect; a value the
// user gave on the node command line or in NODE_OPTIONS wins.

import { setFlagsFromString } from 'node:v8';

const FLAG = 'heap-growing-percent';

/** True when node was started with --heap-growing-percent (command line or NODE_OPTIONS). */
export function heapGrowthGivenToNode(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = (a: string) => /^--heap[-_]growing[-_]percent(=|$)/.test(a);
  return execArgv.some(given) || nodeOptions.split(/\s+/).some(given);
}

/**
 * Sets V8's heap growing factor to 1 + percent/100 unless node was given one; 0 leaves V8's own
 * heuristics. Returns the percent in effect ('node' when node's own flag wins).
 */
export function applyHeapGrowth(percent: number): number | 'node' | 'v8' {
  if (heapGrowthGivenToNode()) return 'node';
  if (percent <= 0) return 'v8';
  setFlagsFromString(`--${FLAG}=${Math.round(percent)}`);
  return percent;
}
