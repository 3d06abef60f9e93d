// The CLI's flag handling: every malformed input is a UsageError naming the flag, the binary
// exits 2 on it, and every command has --help.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseFlags, UsageError, type CommandSpec } from '../src/cli/flags.js';
import { SUBMIT, STATUS, apiBase } from '../src/cli/client.js';
import { submitInputs } from '../src/cli/api.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const spec: CommandSpec = {
  name: 't',
  summary: '',
  usage: '',
  flags: [
    { name: 'n', type: 'int', help: '', min: 1, max: 10, default: 3 },
    { name: 'x', type: 'number', help: '' },
    { name: 's', type: 'string', help: '', env: 'T_S' },
    { name: 'list', type: 'string', help: '', repeat: true },
    { name: 'b', type: 'bool', help: '' },
    { name: 'req', type: 'string', help: '', required: true },
  ],
};

describe('parseFlags', () => {
  it('parses values, = syntax, repeats, env and defaults', () => {
    const v = parseFlags(spec, ['--', '--req', 'r', '--x=1.5', '--list', 'a,b', '--list', 'c', '--b'], { T_S: 'from-env' });
    expect(v).toMatchObject({ req: 'r', x: 1.5, list: ['a', 'b', 'c'], b: true, s: 'from-env', n: 3 });
  });
  it.each([
    [['--req', 'r', '--nope'], /unknown option --nope/],
    [['--req', 'r', '--n'], /--n needs a value/],
    [['--req', 'r', '--n', 'abc'], /--n must be a whole number/],
    [['--req', 'r', '--n', '0'], /at least 1/],
    [['--req', 'r', '--n', '11'], /at most 10/],
    [['--req', 'r', '--x', '1e3'], /must be a number/],
    [['--req', 'r', '--s', 'a', '--s', 'b'], /given twice/],
    [['--req', 'r', '--b=maybe'], /takes no value/],
    [[], /--req is required/],
    [['--req', 'r', 'stray'], /unexpected argument/],
    [['--req', '--n'], /--req needs a value/],
  ])('%j is refused', (argv, msg) => {
    expect(() => parseFlags(spec, argv)).toThrow(UsageError);
    expect(() => parseFlags(spec, argv)).toThrow(msg);
  });
  it('submit and status flags', () => {
    expect(parseFlags(SUBMIT, ['--peer', 'ws://h:1/r', '--type', 'echo', '--count', '5', '--depends-on', 'a,b'])).toMatchObject({ count: 5, 'depends-on': ['a', 'b'], payload: 'null' });
    expect(() => parseFlags(STATUS, [])).toThrow(/--peer is required/);
    expect(() => apiBase('http://x')).toThrow(/ws:\/\//);
    expect(apiBase('ws://127.0.0.1:5/agentmesh')).toBe('http://127.0.0.1:5');
  });
  it('submit bodies: count, tasks, and key with count are checked', () => {
    expect(submitInputs({ type: 'echo', count: 3 })).toHaveLength(3);
    expect(submitInputs({ tasks: [{ type: 'a' }, { type: 'b' }] })).toHaveLength(2);
    expect(() => submitInputs({ type: 'echo', count: 0 })).toThrow(/count/);
    expect(() => submitInputs({ type: 'echo', count: 2, key: 'k' })).toThrow(/idempotency key/);
    expect(() => submitInputs([])).toThrow();
  });
});

describe('the agentmesh binary', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  it.each(['peer', 'up', 'submit', 'status', 'get', 'cancel', 'partition', 'heal'])('%s --help exits 0', (cmd) => {
    const r = cli(cmd, '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Usage: agentmesh ${cmd}`));
  });
  it.each([
    [['bogus'], /unknown command "bogus"/],
    [['peer', '--name', 'A'], /--data-dir is required/],
    [['peer', '--name', 'A', '--data-dir', '/tmp/x', '--capacity', 'lots'], /--capacity must be a number/],
    [['peer', '--name', 'A', '--data-dir', '/tmp/x', '--agents', 'telepathy'], /unknown agent "telepathy"/],
    [['submit', '--peer', 'ws://127.0.0.1:1/agentmesh', '--type', 'echo', '--count', '-3'], /--count must be at least 1/],
    [['status', '--peer', 'not a url'], /--peer must be a websocket URL/],
    [['up', '--peers', '3', '--capacities', '1,2'], /--capacities has 2 values for 3 peers/],
  ])('%j exits 2 with a clear message', (argv, msg) => {
    const r = cli(...argv);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
  });
  it('an unreachable peer is a clear error, exit 1', () => {
    const r = cli('status', '--peer', 'ws://127.0.0.1:1/agentmesh');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot reach peer at http:\/\/127.0.0.1:1/);
  });
});
