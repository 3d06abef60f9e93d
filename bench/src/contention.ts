// Why: a benchmark on a shared 2-core machine is only honest if it says when something else was
// busy. This samples, every few seconds, the load average and any agentmesh/vitest/bench processes
// that are not ours (another checkout's peers, a test run), so the results can carry a warning.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Contention {
  samples: number;
  loadavg1Max: number;
  foreign: string[];
  /** Per phase: highest 1-min load average and how many foreign processes were seen in it. */
  byPhase: Record<string, { loadavg1Max: number; foreign: number }>;
}

export function watchContention(everyMs = 5000): { phase(name: string): void; stop(): Contention } {
  const foreign = new Map<string, string>();
  const byPhase: Record<string, { loadavg1Max: number; foreign: number; pids: Set<string> }> = {};
  let current = 'setup';
  let max = 0;
  let samples = 0;
  const sample = () => {
    samples++;
    const la = loadavg()[0]!;
    max = Math.max(max, la);
    const ph = (byPhase[current] ??= { loadavg1Max: 0, foreign: 0, pids: new Set() });
    ph.loadavg1Max = Math.max(ph.loadavg1Max, Math.round(la * 100) / 100);
    try {
      const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8', timeout: 2000 });
      for (const line of out.split('\n').slice(1)) {
        const m = /^\s*(\d+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const args = m[2]!;
        // This run itself (started by a relative path, its args do not name ROOT) and its parent.
        if (m[1] === String(process.pid) || m[1] === String(process.ppid)) continue;
        if (args.includes(ROOT) || args.includes('am-bench-')) continue;
        if (/main\.js peer|vitest|bench\/dist|packages\/sim\/dist|demo\/dist/.test(args)) {
          foreign.set(m[1]!, args.slice(0, 140));
          ph.pids.add(m[1]!);
          ph.foreign = ph.pids.size;
        }
      }
    } catch {
      /* ps missing: load average only */
    }
  };
  sample();
  const iv = setInterval(sample, everyMs);
  iv.unref();
  return {
    phase: (name: string) => {
      current = name;
      sample();
    },
    stop: () => {
      clearInterval(iv);
      const phases = Object.fromEntries(Object.entries(byPhase).map(([k, v]) => [k, { loadavg1Max: v.loadavg1Max, foreign: v.foreign }]));
      return { samples, loadavg1Max: Math.round(max * 100) / 100, foreign: [...foreign.entries()].map(([pid, a]) => `${pid} ${a}`), byPhase: phases };
    },
  };
}
