#!/usr/bin/env node
// `npm run soak -- --seeds A..B [sim options]`: a long sweep of seeds in parallel worker threads
// (the nightly share of the project's 10,000-seed goal). Progress every 10 s on stderr; then a
// summary of seeds run, failures with their reproduce commands, duplicate runs by cause, losses,
// split winners, the slowest heal and seeds per second. Exits 1 on any failure or an unfinished
// sweep, 2 on bad usage, 130 on Ctrl-C. Bounded: the range is finite and each seed has a
// wall-clock limit (--seed-timeout); --max-minutes caps the whole sweep.

import { parseArgs, UsageError, USAGE } from './args.js';
import { sweepCommand } from './sweep-command.js';

const SOAK_USAGE = `Usage: npm run soak -- --seeds A..B [options]

Runs every seed from A to B in worker threads and prints a summary. Takes the simulator's options
(--peers, --tasks, --steps, --faults, --heal-budget, --jobs, --strict-duplicates, --lax-duplicates, --seed-timeout,
--max-minutes, --json); --seeds is required.

${USAGE.slice(USAGE.indexOf('Options:'))}`;

async function main(argv: string[]): Promise<number> {
  try {
    const a = parseArgs(argv);
    if (a.help) {
      process.stdout.write(SOAK_USAGE + '\n');
      return 0;
    }
    if (!a.seedRange) throw new UsageError('soak needs --seeds A..B');
    if (a.workedCase) throw new UsageError('soak does not run the worked case');
    return await sweepCommand(a, a.seedRange[0], a.seedRange[1], { name: 'soak', progressEveryMs: 10_000, timing: true });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`soak: ${e.message}\nRun with --help for usage.\n`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`soak: crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
