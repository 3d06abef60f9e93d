#!/usr/bin/env node
// The `agentmesh` command: dispatches to peer, up, submit, status, get, cancel, retry, partition, heal.
// Usage errors print a clear message and exit 2; --json output goes to stdout, logs to stderr.
import '../net/polyfill.js';
import { UsageError, parseFlags, usageText, type CommandSpec, type FlagValues } from './flags.js';
import { ApiError, CANCEL, GET, HEAL, PARTITION, RETRY, STATUS, SUBMIT, runCancel, runGet, runHeal, runPartition, runRetry, runStatus, runSubmit } from './client.js';
import { PEER, runPeer, describeStartError } from './peer-command.js';
import { UP, runUp } from './up-command.js';
import { flushCliOutput } from './line-buffer.js';

const COMMANDS: [CommandSpec, (v: FlagValues) => Promise<number>][] = [
  [PEER, runPeer],
  [UP, runUp],
  [SUBMIT, runSubmit],
  [STATUS, runStatus],
  [GET, runGet],
  [CANCEL, runCancel],
  [RETRY, runRetry],
  [PARTITION, runPartition],
  [HEAL, runHeal],
];

const TOP = `Usage: agentmesh <command> [options]

AI agents sharing work as equals over a peer-to-peer mesh, with no coordinator.

Commands:
${COMMANDS.map(([s]) => `  ${s.name.padEnd(10)} ${s.summary}`).join('\n')}

Run "agentmesh <command> --help" for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(TOP + '\n');
    return cmd ? 0 : 2;
  }
  const entry = COMMANDS.find(([s]) => s.name === cmd);
  if (!entry) {
    process.stderr.write(`agentmesh: unknown command ${JSON.stringify(cmd)}\n\n${TOP}\n`);
    return 2;
  }
  const [spec, run] = entry;
  try {
    const v = parseFlags(spec, rest, process.env);
    if (v.help) {
      process.stdout.write(usageText(spec) + '\n');
      return 0;
    }
    return await run(v);
  } catch (e) {
    flushCliOutput(); // lines a peer queued before it failed come before the error
    if (e instanceof UsageError) {
      process.stderr.write(`agentmesh ${spec.name}: ${e.message}\nRun "agentmesh ${spec.name} --help" for usage.\n`);
      return 2;
    }
    if (e instanceof ApiError) {
      process.stderr.write(`agentmesh ${spec.name}: ${e.message}\n`);
      return e.status === 400 || e.status === 404 ? 2 : 1;
    }
    process.stderr.write(`agentmesh ${spec.name}: ${describeStartError(e)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Peers and clients close their handles; a stuck handle must not keep a finished CLI alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (e) => {
    flushCliOutput();
    process.stderr.write(`agentmesh: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
