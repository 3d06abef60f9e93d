// Installs the workspace with the pinned pnpm (fetched through npx) so `npm start` and
// `npm test` work on a fresh clone that has only Node. Skips the install when node_modules is current.
// With --chromium (what `npm test` passes) it also makes sure Debian's chromium is there for the
// dashboard's browser tests, and with --iptables (also passed by `npm test`) Debian's iptables for
// the network-namespace fault tests: as root it runs apt-get (bounded in time); anything that goes
// wrong is a loud warning on stderr, never a crash (those tests then say they were skipped and why).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpm = pkg.packageManager; // e.g. pnpm@12.4.2
const marker = join(root, 'node_modules', '.modules.yaml');
const lock = join(root, 'pnpm-lock.yaml');
const fresh = existsSync(marker) && existsSync(lock) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh || process.env.CI) {
  process.stderr.write(`agentmesh: installing dependencies with ${pnpm}\n`);
  const args = ['-y', pnpm, 'install', '--frozen-lockfile=' + (existsSync(lock) ? 'true' : 'false')];
  execFileSync('npx', args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

if (process.argv.includes('--chromium')) ensureChromium();
if (process.argv.includes('--iptables')) ensureIptables();

function warn(lines) {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `!! ${l}`).join('\n')}\n${bar}\n\n`);
}

/** Runs apt-get quietly with a time bound; returns true on success. */
function apt(args, timeoutMs) {
  process.stderr.write(`agentmesh: apt-get ${args.join(' ')}\n`);
  const r = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
  });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}`;
    process.stderr.write(`agentmesh: apt-get ${args[args.length - 1]} failed (${why})\n${(r.stderr ?? '').trim().split('\n').slice(-5).join('\n')}\n`);
    return false;
  }
  return true;
}

function ensureChromium() {
  ensureDebianPackage({ exe: '/usr/bin/chromium', pkg: 'chromium', what: 'the dashboard browser tests', skipped: 'The dashboard browser tests will be SKIPPED.' });
}

function ensureIptables() {
  ensureDebianPackage({
    exe: '/usr/sbin/iptables',
    pkg: 'iptables',
    what: 'the network-namespace fault tests (one-way drops, loss, proxies)',
    skipped: 'The iptables scenarios of packages/peer/test/netns-*.test.ts will be SKIPPED.',
  });
}

/** Installs one Debian package as root (bounded in time) unless `exe` is there; warns loudly otherwise. */
function ensureDebianPackage({ exe, pkg, what, skipped }) {
  if (existsSync(exe)) return;
  const advice = `Install it with: apt-get update && apt-get install -y ${pkg}`;
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    warn([`${exe} is missing and this script cannot install it (needs root and apt-get).`, skipped, advice]);
    return;
  }
  const t0 = Date.now();
  process.stderr.write(`agentmesh: ${exe} is missing; installing Debian's ${pkg} for ${what}\n`);
  const lists = '/var/lib/apt/lists';
  const haveLists = existsSync(lists) && readdirSync(lists).some((f) => f.endsWith('_Packages') || f.includes('_Packages.'));
  const flags = ['-y', '-q', '-o', 'Dpkg::Use-Pty=0', '-o', 'DPkg::Lock::Timeout=120'];
  let ok = false;
  if (haveLists) ok = apt([...flags, 'install', pkg], 600_000);
  if (!ok) ok = apt(['-q', '-o', 'DPkg::Lock::Timeout=120', 'update'], 240_000) && apt([...flags, 'install', pkg], 600_000);
  if (ok && existsSync(exe)) {
    process.stderr.write(`agentmesh: ${pkg} installed in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } else {
    warn([`Installing ${pkg} failed: ${exe} is still missing.`, skipped, advice]);
  }
}
