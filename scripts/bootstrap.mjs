// Installs the workspace with the pinned pnpm (fetched through npx) so `npm start` and
// `npm test` work on a fresh clone that has only Node. Skips the install when node_modules is current.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(root, 'package.json'), 'utf8')));
const pnpm = pkg.packageManager; // e.g. pnpm@12.4.2
const marker = join(root, 'node_modules', '.modules.yaml');
const lock = join(root, 'pnpm-lock.yaml');
const fresh = existsSync(marker) && existsSync(lock) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh || process.env.CI) {
  process.stderr.write(`agentmesh: installing dependencies with ${pnpm}\n`);
  const args = ['-y', pnpm, 'install', '--frozen-lockfile=' + (existsSync(lock) ? 'true' : 'false')];
  execFileSync('npx', args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}
