// `agentmesh peer`: one real peer process. It keeps its identity (libp2p key) and its document
// (update log + snapshots) in --data-dir, joins the mesh over libp2p (TCP, Noise, Yamux, direct streams,
// a private network when a secret is set), serves the y-websocket endpoint and the HTTP API on
// --ws-port, prints a ready line, then one event line per task state change it causes (buffered
// and written once per event-loop turn: see line-buffer.ts). It remembers its listen port and the
// addresses of the peers it knew (peer-memory.ts), so a restart finds the mesh without --bootstrap,
// and keeps a ring of its metrics (metrics.ts) for the dashboard and GET /metrics.
// SIGTERM/SIGINT: finish or release running work, flush, exit 0.

import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { FileArchive, openFileStorage } from '@agentmesh/crdt-store/node';
import { Peer } from '../peer.js';
import { systemClock } from '../clock.js';
import { lineLogger, type LogLevel } from '../logger.js';
import { builtinAgents, BUILTIN_AGENT_NAMES } from '@agentmesh/agents';
import { createMeshTransport, generatePeerKey, peerIdOfKey, peerKeyFromBytes, peerKeyToBytes } from '../net/libp2p-transport.js';
import { startWsEndpoint } from '../ws-endpoint.js';
import { apiHandler } from './api.js';
import { PeerMetrics } from './metrics.js';
import { loadMemory, remember, rememberedBootstrap, reuseListenPorts, saveMemory, transportAddresses } from './peer-memory.js';
import { flushOnExit, stderrLines, stdoutLines } from './line-buffer.js';
import { UsageError, type CommandSpec, type FlagValues } from './flags.js';
import { checkPeerFlags } from './peer-checks.js';
import { peerTrustOptions } from '../net/node-signing.js';
import { allowListOf } from './allow-list.js';
import { applyHeapGrowth } from './heap-growth.js';

export const PEER: CommandSpec = {
  name: 'peer',
  summary: 'Runs one agentmesh peer until SIGTERM/SIGINT.',
  usage: 'agentmesh peer --name A --data-dir DIR [--listen MULTIADDR] [--ws-port N] [--capacity N] [--agents a,b] [--bootstrap MULTIADDR]... [--secret S] [--allow ID[,ID] | --allow-file FILE] [--json]',
  flags: [
    { name: 'name', type: 'string', arg: 'NAME', help: 'human name of this peer', required: true },
    { name: 'data-dir', type: 'string', arg: 'DIR', help: 'where the peer keeps its key and its document', required: true },
    { name: 'listen', type: 'string', arg: 'MULTIADDR', help: 'libp2p listen address', repeat: true, default: ['/ip4/127.0.0.1/tcp/0'] },
    { name: 'bootstrap', type: 'string', arg: 'MULTIADDR', help: 'a peer to join through (with /p2p/ID); a restarted peer also redials the peers it knew (kept in DIR/peers.json)', repeat: true },
    { name: 'ws-host', type: 'string', arg: 'HOST', help: 'host of the websocket/HTTP endpoint', default: '127.0.0.1' },
    { name: 'ws-port', type: 'int', arg: 'N', help: 'port of the websocket/HTTP endpoint (0 = any free)', default: 0, min: 0, max: 65535 },
    { name: 'ws-token', type: 'string', arg: 'TOKEN', help: 'token clients must present (required beyond loopback)', env: 'AGENTMESH_WS_TOKEN' },
    { name: 'room', type: 'string', arg: 'ROOM', help: 'y-websocket room name', default: 'agentmesh' },
    { name: 'capacity', type: 'number', arg: 'N', help: 'tasks per second this peer takes on (the brief P_i)', default: 10, min: 0.001, max: 1_000_000 },
    { name: 'concurrency', type: 'int', arg: 'M', help: 'tasks run at once', default: 16, min: 1, max: 100_000 },
    { name: 'agents', type: 'string', arg: 'a,b', help: `agents to run (${BUILTIN_AGENT_NAMES.join(', ')}, llm)`, repeat: true },
    { name: 'capabilities', type: 'string', arg: 'CAP[,CAP]', help: 'extra capability tags', repeat: true },
    { name: 'secret', type: 'string', arg: 'S', help: 'mesh secret every member proves (libp2p private network)', env: 'AGENTMESH_SECRET' },
    { name: 'secret-file', type: 'string', arg: 'FILE', help: 'read the mesh secret from a file' },
    { name: 'allow', type: 'string', arg: 'ID[,ID]', help: 'allow-list: only these peer ids (and this peer) may connect, only their entries count', repeat: true },
    { name: 'allow-file', type: 'string', arg: 'FILE', help: 'allow-list from a file: one peer id per line, # comments' },
    { name: 'llm-url', type: 'string', arg: 'URL', help: 'OpenAI-compatible endpoint for the llm agent', env: 'AGENTMESH_LLM_URL' },
    { name: 'llm-model', type: 'string', arg: 'MODEL', help: 'model name for the llm agent', env: 'AGENTMESH_LLM_MODEL', default: 'gpt-4o-mini' },
    { name: 'llm-key', type: 'string', arg: 'KEY', help: 'API key for the llm agent', env: 'AGENTMESH_LLM_KEY' },
    { name: 'retention-ms', type: 'int', arg: 'MS', help: 'finished tasks older than this leave the live document for the archive', default: 600_000, min: 0, max: 365 * 24 * 3600 * 1000 },
    { name: 'max-finished', type: 'int', arg: 'N', help: 'finished tasks kept in the live document at most', default: 10_000, min: 0, max: 10_000_000 },
    { name: 'max-doc-bytes', type: 'int', arg: 'BYTES', help: 'size budget of the live document', default: 4 * 1024 * 1024, min: 64 * 1024, max: 2 ** 31 - 1 },
    { name: 'max-tombstones', type: 'int', arg: 'N', help: 'entries deleted by archival after which a new document generation clears them', default: 50_000, min: 1, max: 100_000_000 },
    { name: 'forget-peers-ms', type: 'int', arg: 'MS', help: 'archival stops waiting for a known peer not heard from for this long', default: 600_000, min: 0, max: 365 * 24 * 3600 * 1000 },
    { name: 'heap-growth', type: 'int', arg: 'PERCENT', help: 'how far V8 lets the heap grow past its live size between full collections (0 = V8 decides: up to 300% on a big machine)', default: 60, min: 0, max: 1000 },
    { name: 'log-level', type: 'string', arg: 'LEVEL', help: 'debug|info|warn|error', default: 'info' },
    { name: 'json', type: 'bool', help: 'print the ready line and events as JSON lines on stdout' },
    { name: 'task-events', type: 'string', arg: 'TYPE[,TYPE]', help: 'print the running/done lines of tasks of these types only (default: every task)', repeat: true },
  ],
};

async function loadOrCreateKey(dir: string) {
  const file = join(dir, 'peer.key');
  if (existsSync(file)) {
    try {
      return peerKeyFromBytes(new Uint8Array(await readFile(file)));
    } catch (e) {
      throw new UsageError(`${file} is not a valid peer key (${(e as Error).message}); move it away to start with a new identity`);
    }
  }
  const key = await generatePeerKey();
  await writeFile(file + '.tmp', peerKeyToBytes(key), { mode: 0o600 });
  await rename(file + '.tmp', file);
  return key;
}

export async function runPeer(v: FlagValues): Promise<number> {
  const level = String(v['log-level']);
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  checkPeerFlags(v); // refused before anything starts (exit 2)
  const allow = await allowListOf(v);
  const name = String(v.name);
  const dir = String(v['data-dir']);
  const json = Boolean(v.json);
  // Event lines (stdout) and log lines (stderr) are written once per event-loop turn, and on exit.
  flushOnExit();
  const logger = lineLogger(stderrLines.line, { min: level as LogLevel, json, name });
  const log = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => logger.log(lvl, msg, fields);
  const heapGrowth = applyHeapGrowth(Number(v['heap-growth']));
  if (heapGrowth === 'node') log('debug', 'heap growth: the --heap-growing-percent given to node applies');

  let secret = v.secret === undefined ? undefined : String(v.secret);
  if (v['secret-file']) {
    try {
      secret = (await readFile(String(v['secret-file']), 'utf8')).trim();
    } catch (e) {
      throw new UsageError(`cannot read --secret-file: ${(e as Error).message}`);
    }
    if (!secret) throw new UsageError('--secret-file is empty');
  }
  const llm = v['llm-url'] ? { url: String(v['llm-url']), model: String(v['llm-model']), ...(v['llm-key'] ? { apiKey: String(v['llm-key']) } : {}) } : undefined;
  const all = builtinAgents(llm ? { llm } : {});
  const wanted = (v.agents as string[] | undefined) ?? Object.keys(all);
  const agents: typeof all = {};
  for (const a of wanted) {
    if (!all[a]) throw new UsageError(`unknown agent ${JSON.stringify(a)}; available: ${Object.keys(all).join(', ')}${a === 'llm' ? ' (llm needs --llm-url)' : ''}`);
    agents[a] = all[a]!;
  }

  const startedAt = Date.now();
  await mkdir(dir, { recursive: true });
  const privateKey = await loadOrCreateKey(dir);
  // Where this peer listened and whom it knew, last time (peers.json): reused so it finds them again.
  const memory = await loadMemory(dir, logger);
  const listen = await reuseListenPorts(v.listen as string[], memory);
  const given = (v.bootstrap as string[] | undefined) ?? [];
  const remembered = rememberedBootstrap(memory, undefined).filter((a) => !given.includes(a));
  const storage = await openFileStorage(join(dir, 'store'), { logger });
  let archive: FileArchive;
  try {
    archive = FileArchive.open(join(dir, 'archive'), { logger });
  } catch (e) {
    await storage.close().catch(() => {});
    throw new UsageError(`cannot open the archive in ${join(dir, 'archive')}: ${(e as Error).message}`);
  }
  let transport: Awaited<ReturnType<typeof createMeshTransport>> | undefined;
  let peer: Peer | undefined;
  let endpoint: Awaited<ReturnType<typeof startWsEndpoint>> | undefined;
  let metrics: PeerMetrics | undefined;
  try {
    const self = peerIdOfKey(privateKey);
    const again = remembered.filter((a) => !a.endsWith(`/p2p/${self}`));
    if (again.length > 0) log('info', `redialling ${Object.keys(memory.peers).filter((id) => id !== self).length} remembered peers`, { addrs: again.length });
    // Who may connect and whose entries count: the allow-list (if any, with this peer on it),
    // minus removed members (docs/security.md).
    const isMember = allow && ((id: string) => id === self || allow.has(id));
    transport = await createMeshTransport({
      privateKey,
      listen,
      bootstrap: [...given, ...again],
      ...(secret ? { secret } : {}),
      logger,
      admits: (id) => (isMember?.(id) ?? true) && !peer?.members.isRemoved(id),
    });
    const t0 = transport;
    peer = new Peer({
      id: transport.localId,
      name,
      capacity: Number(v.capacity),
      concurrency: Number(v.concurrency),
      capabilities: (v.capabilities as string[] | undefined) ?? [],
      agents,
      transport,
      storage,
      clock: systemClock,
      seed: randomInt(2 ** 47),
      logger,
      archive,
      trust: { ...peerTrustOptions(transport.localId, privateKey, isMember), onRemovals: (ids) => void t0.expel(ids) },
      rollover: {
        retentionMs: Number(v['retention-ms']),
        maxFinished: Number(v['max-finished']),
        maxDocBytes: Number(v['max-doc-bytes']),
        maxTombstones: Number(v['max-tombstones']),
        forgetPeersAfterMs: Number(v['forget-peers-ms']),
      },
    });
    await peer.start();
    const p = peer;
    const t = transport;
    metrics = new PeerMetrics(p, { wire: () => t.wireStats(), blocked: () => t.blocked() });
    metrics.start();
    const m = metrics;
    endpoint = await startWsEndpoint({
      doc: p.document,
      host: String(v['ws-host']),
      port: Number(v['ws-port']),
      room: String(v.room),
      ...(v['ws-token'] ? { token: String(v['ws-token']) } : {}),
      logger,
      onInvalid: (reason) => log('warn', 'websocket client sent an invalid update', { reason }),
      status: () => p.status(),
      httpHandler: apiHandler(p, { block: (ids) => t.block(ids), unblockAll: () => t.unblockAll(), blocked: () => t.blocked() }, { wire: () => t.wireStats(), metrics: m, startedAt }),
      isStale: (u) => p.isStaleUpdate(u),
    });
  } catch (e) {
    metrics?.stop();
    await endpoint?.close().catch(() => {});
    await peer?.stop().catch(() => {});
    await transport?.close().catch(() => {});
    await storage.close().catch(() => {});
    await archive.close().catch(() => {});
    throw e;
  }

  const ready = { event: 'ready', name, peerId: peer.id, multiaddrs: transport.multiaddrs(), wsUrl: endpoint.url };
  stdoutLines.write(json ? JSON.stringify(ready) + '\n' : `peer ${name} ready\n  peer id   ${peer.id}\n  libp2p    ${ready.multiaddrs.join(' ')}\n  websocket ${endpoint.url}\n`);
  stdoutLines.flush();
  const emit = (e: Record<string, unknown>) => {
    if (json) stdoutLines.line(JSON.stringify({ ...e, t: Date.now() }));
    else {
      const { event, id, state, ...rest } = e;
      log('info', id ? `${String(event)} ${String(id)} ${String(state)}` : String(event), rest);
    }
  };
  // --task-events: the lines of some task types only (a peer running thousands of tasks a second
  // need not print, nor its reader parse, a line for each when a script watches a few).
  const shown = v['task-events'] === undefined ? undefined : new Set(v['task-events'] as string[]);
  peer.on('run-start', (e) => (!shown || shown.has(e.type)) && emit({ event: 'task', id: e.id, state: 'running', round: e.round, type: e.type, peer: name }));
  peer.on('run-end', (e) => (!shown || shown.has(e.type)) && emit({ event: 'task', id: e.id, state: e.outcome === 'done' ? 'done' : e.outcome === 'failed' ? 'failed' : 'aborted', round: e.round, type: e.type, ms: e.ms, peer: name, ...(e.error ? { error: e.error } : {}) }));
  peer.on('invalid', (e) => log('warn', 'rejected input', e));
  peer.on('generation', (e) => emit({ event: 'generation', generation: e.name, n: e.n, archived: e.archived, kept: e.kept, docBytes: e.docBytes }));

  const p = peer;
  const t = transport;
  const ep = endpoint;
  const mt = metrics!;
  // Remember where this peer listens and where the peers it is connected to can be dialled.
  const addressesOf = transportAddresses(t);
  let saving = Promise.resolve();
  const note = () => {
    const changed = remember(memory, { self: p.id, listen: t.multiaddrs(), connected: t.connectedPeers(), addressesOf, nameOf: (id) => p.peerName(id), now: Date.now() });
    if (changed) saving = saving.then(() => saveMemory(dir, memory)).catch((e: unknown) => log('warn', `cannot write ${dir}/peers.json: ${(e as Error).message}`));
    return saving;
  };
  void note();
  const memoryTimer = setInterval(() => void note(), 3000);
  memoryTimer.unref();
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log('info', `${signal}: stopping (finishing or releasing running tasks)`);
      clearInterval(memoryTimer);
      mt.stop();
      try {
        await note();
        await p.stop();
        await ep.close();
        await t.close();
        await archive.close();
        emit({ event: 'stopped', name });
        resolve(0);
      } catch (e) {
        log('error', 'error while stopping', { error: (e as Error).message });
        resolve(1);
      }
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}

export { describeStartError } from './start-error.js';
