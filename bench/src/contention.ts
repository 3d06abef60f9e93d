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
}

export function watchContention(everyMs = 5000): { stop(): Contention } {
  const foreign = new Map<string, string>();
  let max = 0;
  let samples = 0;
  const sample = () => {
    samples++;
    max = Math.max(max, loadavg()[0]!);
    try {
      const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8', timeout: 2000 });
      for (const line of out.split('\n').slice(1)) {
        const m = /^\s*(\d+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const args = m[2]!;
        if (args.includes(ROOT) || args.includes('am-bench-')) continue;
        if (/main\.js peer|vitest|bench\/dist|packages\/sim\/dist|demo\/dist/.test(args)) foreign.set(m[1]!, args.slice(0, 140));
      }
    } catch {
      /* ps missing: load average only */
    }
  };
  sample();
  const iv = setInterval(sample, everyMs);
  iv.unref();
  return {
    stop: () => {
      clearInterval(iv);
      return { samples, loadavg1Max: Math.round(max * 100) / 100, foreign: [...foreign.entries()].map(([pid, a]) => `${pid} ${a}`) };
    },
  };
}
