// The bounded-document benchmark: pushes many tasks (100,000 by default) through real peer
// processes over libp2p on loopback and prints, over time, each peer's live document size (encoded
// bytes), its RSS and its data directory's size on disk, then writes bench/results/bounded.json.
// Targets: live document under 5 MB at the end, RSS flat after warm-up.
// Run: pnpm bench:bounded [--tasks N] [--peers N] [--batch N] [--max-outstanding N] [--sample-ms MS] [--keep]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { isEntryScript } from './tool-main.js';
import { PEER_NODE_FLAGS } from './procs.js';
import { FlagReader } from './flags.js';
import { dirBytes } from '@agentmesh/crdt-store/node';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'packages', 'peer', 'dist', 'cli', 'main.js');
/** The bars for this run: each peer's RSS at the end, and tasks per second. */
const TARGET_RSS_BYTES = 300 * 1024 * 1024;
const TARGET_THROUGHPUT = 2500;

interface Options {
  tasks: number;
  peers: number;
  batch: number;
  maxOutstanding: number;
  sampleMs: number;
  /** Give up after this long (every loop here is bounded). */
  deadlineMs: number;
  out: string;
  extraPeerArgs: string[];
  /** Leave the peers' data directories (archives, logs) for inspection; their path is printed. */
  keep: boolean;
}

interface PeerProc {
  name: string;
  child: ChildProcess;
  dir: string;
  api: string;
  multiaddr: string;
  done: number;
}

interface Sample {
  t: number;
  submitted: number;
  done: number;
  peers: { name: string; docBytes: number; docTasks: number; generation: number; archived: number; rssBytes: number; diskBytes: number }[];
}

/** The flags of bench:bounded. Without --out, only a run with no flag but --keep writes results/bounded.json; any other flag sends it to results/partial/bounded.json. */
export function parseBoundedArgs(argv: string[]): Options {
  const o: Options = { tasks: 100_000, peers: 3, batch: 500, maxOutstanding: 4000, sampleMs: 5000, deadlineMs: 30 * 60_000, out: join(ROOT, 'bench', 'results', 'bounded.json'), extraPeerArgs: [], keep: false };
  let outGiven = false;
  let narrowed = false;
  const f = new FlagReader(argv);
  for (let a = f.next(); a !== undefined; a = f.next()) {
    if (a !== '--out' && a !== '--keep' && a !== '--help') narrowed = true;
    switch (a) {
      case '--tasks': o.tasks = f.int(1, 10_000_000); break;
      case '--peers': o.peers = f.int(1, 15); break;
      case '--batch': o.batch = f.int(1, 100_000); break;
      case '--max-outstanding': o.maxOutstanding = f.int(1, 1_000_000); break;
      case '--sample-ms': o.sampleMs = f.int(100, 600_000); break;
      case '--deadline-s': o.deadlineMs = f.int(10, 24 * 3600) * 1000; break;
      case '--out': o.out = f.value(); outGiven = true; break;
      case '--peer-arg': o.extraPeerArgs.push(f.value()); break;
      case '--keep': o.keep = true; break;
      case '--help':
        process.stdout.write('usage: bounded [--tasks 100000] [--peers 3] [--batch 500] [--max-outstanding 4000] [--sample-ms 5000] [--deadline-s 1800] [--out FILE (default results/bounded.json, results/partial/bounded.json when any flag but --keep is given)] [--peer-arg ARG]... [--keep]\n');
        process.exit(0);
      // falls through
      default:
        throw new Error(`unknown flag ${a} (see --help)`);
    }
  }
  // A smaller or changed run is not the benchmark's result: it never replaces results/bounded.json.
  if (narrowed && !outGiven) o.out = join(ROOT, 'bench', 'results', 'partial', 'bounded.json');
  return o;
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function http(method: string, url: string, body?: unknown): Promise<any> {
  const res = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

function startPeer(name: string, dir: string, bootstrap: string | undefined, extra: string[]): Promise<PeerProc> {
  const args = [CLI, 'peer', '--name', name, '--data-dir', dir, '--json', '--capacity', '1000000', '--concurrency', '64', '--agents', 'echo', '--log-level', 'warn', ...extra];
  if (bootstrap) args.push('--bootstrap', bootstrap);
  // AGENTMESH_PEER_NODE_ARGS: extra node flags for the peer processes (e.g. --cpu-prof for profiling).
  const nodeArgs = (process.env.AGENTMESH_PEER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...PEER_NODE_FLAGS, ...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => {
    const s = d.toString();
    if (/error/i.test(s)) process.stderr.write(`[${name}] ${s}`);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    const p: PeerProc = { name, child, dir, api: '', multiaddr: '', done: 0 };
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => {
      if (p.api === '' && l.includes('"event":"ready"')) {
        const r = JSON.parse(l) as { wsUrl: string; multiaddrs: string[]; peerId: string };
        const u = new URL(r.wsUrl);
        p.api = `http://${u.host}`;
        p.multiaddr = r.multiaddrs[0]!;
        clearTimeout(timer);
        resolve(p);
      } else if (l.includes('"state":"done"')) p.done++;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (p.api === '') reject(new Error(`${name} exited with ${code} before it was ready`));
    });
  });
}

const mb = (n: number) => (n / 1024 / 1024).toFixed(2);

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseBoundedArgs(process.argv.slice(2));
  } catch (e) {
    // A bad flag is a usage error (exit 2, as bench:sustained), not a failed run.
    process.stderr.write(`bounded: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const base = mkdtempSync(join(tmpdir(), 'am-bounded-'));
  const peers: PeerProc[] = [];
  const stopAll = () => {
    for (const p of peers) p.child.kill(process.env.AGENTMESH_PEER_NODE_ARGS ? 'SIGINT' : 'SIGKILL');
    if (o.keep) process.stdout.write(`data directories kept in ${base}\n`);
    else rmSync(base, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  const t0 = Date.now();
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < o.peers; i++) {
      const dir = join(base, `B${i}`);
      mkdirSync(dir, { recursive: true });
      peers.push(await startPeer(`B${i}`, dir, peers[0]?.multiaddr, o.extraPeerArgs));
    }
    // wait for the mesh to form
    for (const end = Date.now() + 30_000; ; ) {
      const s = await http('GET', `${peers.at(-1)!.api}/api/status`);
      if (s.peers.length === o.peers) break;
      if (Date.now() > end) throw new Error('mesh did not form within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write(`bounded: ${o.peers} peers up in ${Date.now() - t0} ms; pushing ${o.tasks} tasks (batches of ${o.batch}, at most ${o.maxOutstanding} outstanding)\n`);
    console.log('   t(s)  submitted       done  | per peer: live doc MB (tasks, generation), RSS MB, disk MB');
    let submitted = 0;
    let next = 0;
    const doneCount = () => peers.reduce((n, p) => n + p.done, 0);
    const sample = async (): Promise<Sample> => {
      const s: Sample = { t: Date.now() - t0, submitted, done: doneCount(), peers: [] };
      for (const p of peers) {
        const d = await http('GET', `${p.api}/api/doc`);
        if (process.env.BOUNDED_DEBUG) console.log(p.name, JSON.stringify(d.timing), 'heap used/total', mb(d.heapUsedBytes), mb(d.heapTotalBytes), 'external', mb(d.externalBytes), 'arrayBuffers', mb(d.arrayBuffersBytes));
        s.peers.push({ name: p.name, docBytes: d.bytes, docTasks: d.tasks, generation: d.generation.n, archived: d.archived.total, rssBytes: rssOf(p.child.pid), diskBytes: dirBytes(p.dir) });
      }
      samples.push(s);
      console.log(
        `${(s.t / 1000).toFixed(1).padStart(7)} ${String(s.submitted).padStart(10)} ${String(s.done).padStart(10)}  | ` +
          s.peers.map((x) => `${x.name} ${mb(x.docBytes)} (${x.docTasks}, g${x.generation}) ${mb(x.rssBytes)} ${mb(x.diskBytes)}`).join(' | '),
      );
      return s;
    };
    let lastSample = Date.now();
    const deadline = t0 + o.deadlineMs;
    const pushStart = Date.now();
    while (doneCount() < o.tasks) {
      if (Date.now() > deadline) throw new Error(`deadline: ${doneCount()} of ${o.tasks} done`);
      if (submitted < o.tasks && submitted - doneCount() < o.maxOutstanding) {
        const n = Math.min(o.batch, o.tasks - submitted);
        const p = peers[next++ % peers.length]!;
        await http('POST', `${p.api}/api/tasks`, { tasks: Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { i: submitted + i } })) });
        submitted += n;
      } else {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (Date.now() - lastSample >= o.sampleMs) {
        lastSample = Date.now();
        await sample();
      }
    }
    const pushMs = Date.now() - pushStart;
    // Let the last generation change land, then the final figures.
    await new Promise((r) => setTimeout(r, Math.min(15_000, o.sampleMs * 2)));
    const last = await sample();
    const warm = samples[Math.min(samples.length - 1, Math.max(1, Math.floor(samples.length / 4)))]!;
    const rssGrowth = last.peers.map((p, i) => p.rssBytes - (warm.peers[i]?.rssBytes ?? p.rssBytes));
    const throughput = Math.round((o.tasks / pushMs) * 1000);
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      tasks: o.tasks,
      peers: o.peers,
      seconds: pushMs / 1000,
      throughput,
      finalDocBytes: last.peers.map((p) => p.docBytes),
      maxDocBytes: Math.max(...samples.flatMap((s) => s.peers.map((p) => p.docBytes))),
      finalRssBytes: last.peers.map((p) => p.rssBytes),
      rssGrowthAfterWarmupBytes: rssGrowth,
      finalDiskBytes: last.peers.map((p) => p.diskBytes),
      generations: last.peers.map((p) => p.generation),
      archived: last.peers.map((p) => p.archived),
      targetDocBytes: 5 * 1024 * 1024,
      docUnderTarget: last.peers.every((p) => p.docBytes < 5 * 1024 * 1024),
      targetRssBytes: TARGET_RSS_BYTES,
      rssUnderTarget: last.peers.every((p) => p.rssBytes <= TARGET_RSS_BYTES),
      targetThroughput: TARGET_THROUGHPUT,
      throughputMet: throughput >= TARGET_THROUGHPUT,
      samples,
    };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
    console.log(`\n${o.tasks} tasks through ${o.peers} peers in ${(pushMs / 1000).toFixed(1)} s (${result.throughput} tasks/s; target >= 2,500: ${result.throughputMet ? 'met' : 'NOT met'}); MB here are 2^20 bytes`);
    console.log(`live document at the end: ${result.finalDocBytes.map(mb).join(' / ')} MB (target < 5 MB: ${result.docUnderTarget ? 'met' : 'NOT met'}); largest seen ${mb(result.maxDocBytes)} MB`);
    console.log(`RSS at the end: ${result.finalRssBytes.map(mb).join(' / ')} MB (target <= 300 MB each: ${result.rssUnderTarget ? 'met' : 'NOT met'}); growth after warm-up: ${rssGrowth.map(mb).join(' / ')} MB`);
    console.log(`disk at the end: ${result.finalDiskBytes.map(mb).join(' / ')} MB; generations ${result.generations.join(' / ')}; archived ${result.archived.join(' / ')}`);
    console.log(`written to ${o.out}`);
  } finally {
    stopAll();
  }
}

// Runs only as the process's entry script (a test importing parseBoundedArgs runs nothing).
if (isEntryScript(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`bounded: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
