// `npm start`: install when needed (bootstrap.mjs), build (tsc -b, then the dashboard page), then
// run the demo as this process's only child and exit with its code. npm runs it as `exec node
// scripts/start.mjs`, so no shell and no npx or pnpm sit in between: Ctrl-C reaches the demo, which
// stops its peers and exits 0, and so do this script and `npm start` (a shell in between would die
// of the SIGINT, and npm would then exit 130). Arguments after `npm start --` go to the demo.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;

function step(args) {
  const r = spawnSync(node, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

step([join(root, 'scripts', 'bootstrap.mjs')]);
step([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b']);
step([join(root, 'demo', 'build-web.mjs')]);

const child = spawn(node, [join(root, 'demo', 'dist', 'start.js'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // A terminal's Ctrl-C reaches the whole process group (the demo too); a signal sent to this
  // process alone is passed on. The demo takes repeats of one press as one.
  process.on(sig, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
