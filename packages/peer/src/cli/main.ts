#!/usr/bin/env -S node --max-semi-space-size=8
// The `agentmesh` command: dispatches to peer, up, submit, status, get, cancel, retry, partition, heal, remove-member.
// Usage errors print a clear message and exit 2; --json output goes to stdout, logs to stderr.
import { UsageError, parseFlags, usageText, type CommandSpec, type FlagValues } from './flags.js';
import { ApiError, CANCEL, GET, HEAL, LIST, PARTITION, REMOVE_MEMBER, RETRY, STATUS, SUBMIT, runCancel, runGet, runHeal, runList, runPartition, runRemoveMember, runRetry, runStatus, runSubmit } from './client.js';
import { flushCliOutput } from './line-buffer.js';

type Run = (v: FlagValues) => Promise<number>;
type Command = { name: string; summary: string; load: () => Promise<[CommandSpec, Run]> };

const now = (spec: CommandSpec, run: Run): Command => ({ name: spec.name, summary: spec.summary, load: async () => [spec, run] });

// The peer and up commands load libp2p and the agents: only when they run, so the client
// commands (status, get, list, ...) start in a fraction of a second.
const COMMANDS: Command[] = [
  {
    name: 'peer',
    summary: 'Runs one agentmesh peer until SIGTERM/SIGINT.',
    load: async () => {
      await import('../net/polyfill.js');
      const m = await import('./peer-command.js');
      return [m.PEER, m.runPeer];
    },
  },
  {
    name: 'up',
    summary: 'Starts N local peers in one command and keeps them running until Ctrl-C.',
    load: async () => {
      const m = await import('./up-command.js');
      return [m.UP, m.runUp];
    },
  },
  now(SUBMIT, runSubmit),
  now(STATUS, runStatus),
  now(LIST, runList),
  now(GET, runGet),
  now(CANCEL, runCancel),
  now(RETRY, runRetry),
  now(PARTITION, runPartition),
  now(HEAL, runHeal),
  now(REMOVE_MEMBER, runRemoveMember),
];

const TOP = `Usage: agentmesh <command> [options]

AI agents sharing work as equals over a peer-to-peer mesh, with no coordinator.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`).join('\n')}

Run "agentmesh <command> --help" for a command's options.`;

async function describeError(e: unknown): Promise<string> {
  const { describeStartError } = await import('./start-error.js');
  return describeStartError(e);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv[0] === '--' ? argv.slice(1) : argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(TOP + '\n');
    return cmd ? 0 : 2;
  }
  const entry = COMMANDS.find((c) => c.name === cmd);
  if (!entry) {
    process.stderr.write(`agentmesh: unknown command ${JSON.stringify(cmd)}\n\n${TOP}\n`);
    return 2;
  }
  const [spec, run] = await entry.load();
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
    process.stderr.write(`agentmesh ${spec.name}: ${await describeError(e)}\n`);
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
