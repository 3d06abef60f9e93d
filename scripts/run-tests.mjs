// Runs every test with vitest (all workspace projects) and ends with the plain summary line
// "N passed, N failed, N skipped" that CI reads, from vitest's JSON report. Exit code is vitest's.
// The whole run is bounded: a test that spins (a loop of microtasks starves vitest's own timers,
// so its per-test timeout never fires) fails CI in minutes instead of hanging it for hours; vitest
// runs in its own process group so that its workers and whatever they started go with it.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-output', 'vitest.json');
mkdirSync(dirname(out), { recursive: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const limitMin = Number(process.env.AGENTMESH_TEST_LIMIT_MIN ?? 25);

const child = spawn(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
});
const killGroup = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => killGroup(sig));
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  killGroup('SIGKILL');
}, limitMin * 60_000);

const status = await new Promise((resolve) => child.on('exit', (code) => resolve(code)));
clearTimeout(timer);
killGroup('SIGKILL'); // anything the run left behind in its group
if (timedOut) {
  process.stdout.write(`\nthe test run did not end within ${limitMin} min (AGENTMESH_TEST_LIMIT_MIN): killed; a test is stuck (see the files above without a result line)\n`);
  process.exit(1);
}
if (existsSync(out)) {
  const j = JSON.parse(readFileSync(out, 'utf8'));
  const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
  process.stdout.write(`\n${j.numPassedTests} passed, ${j.numFailedTests} failed, ${skipped} skipped\n`);
  if (j.numTotalTests === 0) {
    process.stdout.write('no tests ran\n');
    process.exit(1);
  }
}
process.exit(status ?? 1);
