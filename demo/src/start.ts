// `npm start`: the live demo. Starts three local peers (P1..P3, capacities 10, 20 and 30 tasks/s,
// every built-in agent, data in a fresh temp dir), serves the browser dashboard and its control API
// on 127.0.0.1, and prints the dashboard URL on stdout once everything is ready (logs go to stderr).
// Ctrl-C / SIGTERM stops the peers (SIGTERM, then SIGKILL after a bound) and exits 0.
// `--worked-case` instead runs the brief's worked case in the simulator and prints T and D.

import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalMesh, type PeerSpec } from './mesh.js';
import { DemoServer } from './server.js';

const USAGE = `usage: node demo/dist/start.js [--port N] [--capacities 10,20,30] [--json] [--keep-data] [--verbose]
       node demo/dist/start.js --worked-case [--seconds 30]

Starts local peers and the dashboard, prints http://127.0.0.1:PORT/ when ready; Ctrl-C stops everything.
  --port N          dashboard port (default $AGENTMESH_DEMO_PORT or 8080; a busy port falls back to a free one; 0 = any)
  --capacities L    tasks/s of each peer, one peer per value (default 10,20,30)
  --json            print {"event":"ready","url":...,"peers":[...]} instead of the plain line (or AGENTMESH_DEMO_JSON=1)
  --keep-data       keep the peers' data dir on exit (default: removed)
  --verbose         peers log at info level (default warn)
  --max-finished N  finished tasks each peer keeps in its live document before archiving them
                    (default $AGENTMESH_DEMO_MAX_FINISHED or the peers' own default, 10000)
  --retention-ms MS finished tasks older than this are archived (default $AGENTMESH_DEMO_RETENTION_MS or 600000)
                    ($AGENTMESH_DEMO_PEER_ARGS adds any other peer flags, e.g. "--max-tombstones 2000")
  --worked-case     run the brief's worked case in the simulator instead (virtual time)
`;

interface Args {
  port: number;
  portGiven: boolean;
  capacities: number[];
  json: boolean;
  keepData: boolean;
  verbose: boolean;
  workedCase: boolean;
  seconds: number;
  peerArgs: string[];
}

function fail(msg: string): never {
  process.stderr.write(`agentmesh demo: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const envPort = process.env.AGENTMESH_DEMO_PORT;
  const a: Args = {
    port: envPort ? Number(envPort) : 8080,
    portGiven: envPort !== undefined,
    capacities: [10, 20, 30],
    json: process.env.AGENTMESH_DEMO_JSON === '1',
    keepData: false,
    verbose: false,
    workedCase: false,
    seconds: Number(process.env.AGENTMESH_DEMO_SECONDS ?? 30),
    peerArgs: [],
  };
  const maxFinished = process.env.AGENTMESH_DEMO_MAX_FINISHED;
  const retention = process.env.AGENTMESH_DEMO_RETENTION_MS;
  const positive = (flag: string, v: string): string => {
    if (!/^[0-9]+$/.test(v)) fail(`${flag} must be a whole number, got ${JSON.stringify(v)}`);
    return v;
  };
  /** Sets a peer flag once (a command-line flag replaces the environment's). */
  const setPeerArg = (flag: string, v: string): void => {
    const at = a.peerArgs.indexOf(flag);
    if (at >= 0) a.peerArgs.splice(at, 2);
    a.peerArgs.push(flag, v);
  };
  if (maxFinished) setPeerArg('--max-finished', positive('AGENTMESH_DEMO_MAX_FINISHED', maxFinished));
  if (retention) setPeerArg('--retention-ms', positive('AGENTMESH_DEMO_RETENTION_MS', retention));
  // Any other `agentmesh peer` flags for every peer, e.g. "--max-tombstones 2000" (tests, experiments).
  const more = process.env.AGENTMESH_DEMO_PEER_ARGS;
  if (more) a.peerArgs.push(...more.split(/\s+/).filter(Boolean));
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const [flag, inline] = f.includes('=') ? [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] : [f, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port':
        a.port = Number(value());
        a.portGiven = true;
        break;
      case '--capacities':
        a.capacities = value().split(',').map(Number);
        break;
      case '--seconds':
        a.seconds = Number(value());
        break;
      case '--max-finished':
        setPeerArg('--max-finished', positive('--max-finished', value()));
        break;
      case '--retention-ms':
        setPeerArg('--retention-ms', positive('--retention-ms', value()));
        break;
      case '--json': a.json = true; break;
      case '--keep-data': a.keepData = true; break;
      case '--verbose': a.verbose = true; break;
      case '--worked-case': a.workedCase = true; break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
      default:
        fail(`unknown flag ${JSON.stringify(f)}`);
    }
  }
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) fail(`--port must be an integer in 0..65535`);
  if (a.capacities.length < 1 || a.capacities.length > 9 || !a.capacities.every((c) => Number.isFinite(c) && c > 0)) fail('--capacities must be 1..9 positive numbers, e.g. 10,20,30');
  if (!Number.isFinite(a.seconds) || a.seconds <= 0) fail('--seconds must be a positive number');
  return a;
}

async function workedCase(seconds: number): Promise<void> {
  const { runWorkedCase } = await import('@agentmesh/sim');
  process.stdout.write(`agentmesh demo: the brief's worked case, ${seconds} s of virtual time on 3 real peers...\n`);
  const w = await runWorkedCase({ seed: 1, seconds });
  process.stdout.write(`  T = ${w.measuredT.toFixed(2)} tasks/s (model ${w.modelT}), D = ${w.measuredD.toFixed(2)} items/s (model ${w.modelD})\n`);
  for (const [i, p] of w.perPeer.entries()) {
    process.stdout.write(`  ${p.name}: capacity ${p.capacity}/s, did ${p.tasksPerSec.toFixed(2)} tasks/s, share ${(w.shares[i]! * 100).toFixed(1)}% (model ${(w.modelShares[i]! * 100).toFixed(1)}%)\n`);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.workedCase) return workedCase(args.seconds);

  const here = dirname(fileURLToPath(import.meta.url));
  const webRoot = join(here, '..', 'dist-web');
  if (!existsSync(join(webRoot, 'index.html'))) {
    process.stderr.write(`agentmesh demo: the dashboard is not built (${webRoot}/index.html is missing).\nRun \`npm start\` from the repository root, or: npx -y pnpm@12.4.2 run build:web\n`);
    process.exit(1);
  }
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const base = await mkdtemp(join(tmpdir(), 'agentmesh-demo-'));
  const specs: PeerSpec[] = args.capacities.map((capacity, i) => ({ name: `P${i + 1}`, capacity }));
  const mesh = new LocalMesh(base, specs, log, args.verbose ? 'info' : 'warn', args.peerArgs);
  const server = new DemoServer({ mesh, webRoot, log });

  let stopping: Promise<void> | undefined;
  const shutdown = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      log(`agentmesh demo: ${why}; stopping the peers...`);
      await server.close().catch(() => {});
      await mesh.stop(8000);
      if (!args.keepData) await rm(base, { recursive: true, force: true }).catch(() => {});
      else log(`agentmesh demo: peers' data kept in ${base}`);
      log('agentmesh demo: stopped');
    })());
  process.on('exit', () => mesh.killAllNow());
  let firstSignalAt = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) {
        // npm and pnpm forward the terminal's Ctrl-C, so one press arrives several times at once;
        // a second press a moment later means: do not wait for the peers' grace period.
        if (Date.now() - firstSignalAt < 1500) return;
        log('agentmesh demo: stopping now (second signal)');
        mesh.killAllNow();
        process.exit(130);
      }
      firstSignalAt = Date.now();
      void shutdown(sig).then(() => process.exit(0));
    });
  }

  log(`agentmesh demo: starting ${specs.length} peers (capacities ${args.capacities.join(', ')} tasks/s) in ${base}`);
  try {
    await mesh.start();
  } catch (e) {
    log(`agentmesh demo: a peer failed to start: ${(e as Error).message}`);
    await shutdown('start failed');
    process.exit(1);
  }
  if (stopping) return;
  for (const p of mesh.peers) log(`  ${p.name}  capacity ${String(p.capacity).padStart(3)}/s  ${p.wsUrl}  ${p.peerId}`);
  let port: number;
  try {
    port = await server.listen(args.port, args.portGiven && args.port !== 0 && process.env.AGENTMESH_DEMO_STRICT_PORT === '1');
  } catch (e) {
    log(`agentmesh demo: cannot listen on port ${args.port}: ${(e as Error).message}`);
    await shutdown('listen failed');
    process.exit(1);
  }
  const url = `http://127.0.0.1:${port}/`;
  const secs = (performance.now() / 1000).toFixed(1); // since this process started
  if (args.json) {
    process.stdout.write(JSON.stringify({ event: 'ready', url, seconds: Number(secs), pid: process.pid, dataDir: base, peers: mesh.info() }) + '\n');
  } else {
    process.stdout.write(`agentmesh dashboard: ${url}  (ready in ${secs} s; Ctrl-C stops everything)\n`);
  }
}

await main();
