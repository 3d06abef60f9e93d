#!/usr/bin/env node
// `pnpm sim`: runs one seed, a range of seeds (in worker threads: sweep-command.ts), or the
// brief's worked case.
// With --json the last line of stdout is one JSON object; failures always print the seed and
// the command that reproduces them on stderr.

import { parseArgs, reproduceCommand, UsageError, USAGE, type SimArgs } from './args.js';
import { runSimulation } from './runner.js';
import { runWorkedCase } from './worked-case.js';
import { summaryLine, publicJson } from './report.js';
import { configOf, sweepCommand } from './sweep-command.js';

async function main(argv: string[]): Promise<number> {
  let a: SimArgs;
  try {
    a = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sim: ${e.message}\nRun with --help for usage.\n`);
      return 2;
    }
    throw e;
  }
  if (a.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const t0 = Date.now();
  if (a.workedCase) {
    const w = await runWorkedCase({ seed: a.seed, seconds: a.seconds });
    const within = w.shares.every((s, i) => Math.abs(s - w.modelShares[i]!) <= 0.03);
    if (a.json) {
      process.stdout.write(JSON.stringify({ workedCase: true, ...w, sharesWithin3Points: within }) + '\n');
    } else {
      process.stdout.write(
        [
          `Worked case (seed ${w.seed}, ${w.seconds} s measured after warm-up):`,
          `  T measured ${w.measuredT.toFixed(2)} tasks/s   model T = ${w.modelT}`,
          `  D measured ${w.measuredD.toFixed(2)} items/s   model D = ${w.modelD}`,
          ...w.perPeer.map((p, i) => `  ${p.name}: capacity ${p.capacity}/s -> ${p.tasksPerSec.toFixed(2)} tasks/s, ${p.dataPerSec.toFixed(2)} items/s, share ${(w.shares[i]! * 100).toFixed(1)}% (model ${(w.modelShares[i]! * 100).toFixed(1)}%)`),
          `  shares within 3 points of the model: ${within ? 'yes' : 'NO'}`,
        ].join('\n') + '\n',
      );
    }
    process.stderr.write(`sim: worked case took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    return within ? 0 : 1;
  }
  if (a.seedRange) {
    const [from, to] = a.seedRange;
    return sweepCommand(a, from, to, { name: 'sim', progressEveryMs: 30_000, timing: false });
  }
  const r = await runSimulation(configOf(a, a.seed));
  if (!r.ok) process.stderr.write(`FAIL seed=${r.seed}: ${r.problems.join('; ')}\n  reproduce: ${reproduceCommand(a, r.seed)}\n`);
  process.stdout.write((a.json ? JSON.stringify(publicJson(r)) : summaryLine(r)) + '\n');
  process.stderr.write(`sim: seed ${r.seed} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return r.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`sim: crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
