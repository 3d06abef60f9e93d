// Runs every test with vitest (all workspace projects) and ends with the plain summary line
// "N passed, N failed, N skipped" that CI reads, from vitest's JSON report. Exit code is vitest's.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-output', 'vitest.json');
mkdirSync(dirname(out), { recursive: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
// A bound on the whole run: a test that spins (a loop of microtasks starves vitest's own timers,
// so its per-test timeout never fires) must fail CI in minutes, not hang it for hours.
const limitMin = Number(process.env.AGENTMESH_TEST_LIMIT_MIN ?? 25);
const r = spawnSync(process.execPath, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  timeout: limitMin * 60_000,
  killSignal: 'SIGKILL',
});
if (r.error?.code === 'ETIMEDOUT' || (r.signal === 'SIGKILL' && r.status === null)) {
  process.stdout.write(`\nthe test run did not end within ${limitMin} min (AGENTMESH_TEST_LIMIT_MIN): killed; a test is stuck (the files above without a result line)\n`);
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
process.exit(r.status ?? 1);
