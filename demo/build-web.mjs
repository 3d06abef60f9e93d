// Builds the dashboard: type-checks demo/web (strict, DOM) with the workspace's TypeScript, then
// bundles it with vite into demo/dist-web. Run by the root scripts `demo` (npm start), `build:web`
// and `test:all`, after `tsc -b` (the page imports the built @agentmesh/scheduler and crdt-store).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const t0 = Date.now();
const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');
const check = spawnSync(process.execPath, [tsc, '-p', join(here, 'web', 'tsconfig.json')], { stdio: 'inherit' });
if (check.status !== 0) {
  process.stderr.write('dashboard: type errors in demo/web (see above)\n');
  process.exit(check.status ?? 1);
}
await build({ configFile: join(here, 'vite.config.ts') });
process.stderr.write(`dashboard: built demo/dist-web in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
