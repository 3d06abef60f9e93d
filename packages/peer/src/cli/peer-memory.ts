// How a restarted peer finds its mesh again without --bootstrap: it keeps, in its data dir
// (peers.json), the addresses it listened on and the addresses of the peers it was connected to.
// On restart it listens on its old port again when --listen asked for any port (tcp/0) and that
// port is free (so peers that keep redialling its old address reach it), and it dials every
// remembered peer as if it were a bootstrap address. Written atomically every few seconds and on
// stop; a damaged or foreign file is ignored with a warning.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../logger.js';

export const MEMORY_FILE = 'peers.json';
const MAX_PEERS = 32;
const MAX_ADDRS = 8;

export interface RememberedPeer {
  name?: string;
  addrs: string[];
  /** When this peer last saw it connected (ms since epoch). */
  seen: number;
}

export interface PeerMemory {
  /** Addresses this peer listened on (without /p2p/). */
  listen: string[];
  peers: Record<string, RememberedPeer>;
}

const empty = (): PeerMemory => ({ listen: [], peers: {} });

export async function loadMemory(dir: string, logger: Logger): Promise<PeerMemory> {
  let text: string;
  try {
    text = await readFile(join(dir, MEMORY_FILE), 'utf8');
  } catch {
    return empty();
  }
  try {
    const j = JSON.parse(text) as Partial<PeerMemory>;
    const out = empty();
    if (Array.isArray(j.listen)) out.listen = j.listen.filter((a): a is string => typeof a === 'string').slice(0, MAX_ADDRS);
    if (j.peers && typeof j.peers === 'object') {
      for (const [id, p] of Object.entries(j.peers)) {
        if (!p || typeof p !== 'object' || !Array.isArray(p.addrs)) continue;
        const addrs = p.addrs.filter((a): a is string => typeof a === 'string' && a.startsWith('/')).slice(0, MAX_ADDRS);
        if (addrs.length > 0) out.peers[id] = { addrs, seen: typeof p.seen === 'number' ? p.seen : 0, ...(typeof p.name === 'string' ? { name: p.name } : {}) };
      }
    }
    return out;
  } catch (e) {
    logger.log('warn', `${join(dir, MEMORY_FILE)} is not readable (${(e as Error).message}); starting without remembered peers`);
    return empty();
  }
}

export async function saveMemory(dir: string, m: PeerMemory): Promise<void> {
  const file = join(dir, MEMORY_FILE);
  const ids = Object.keys(m.peers).sort((a, b) => m.peers[b]!.seen - m.peers[a]!.seen).slice(0, MAX_PEERS);
  const peers: Record<string, RememberedPeer> = {};
  for (const id of ids) peers[id] = m.peers[id]!;
  await writeFile(`${file}.tmp`, JSON.stringify({ listen: m.listen, peers }, null, 1) + '\n');
  await rename(`${file}.tmp`, file);
}

/** `addr` with /p2p/<id> at its end. */
export function withPeerId(addr: string, id: string): string {
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${id}`;
}

/** `addr` without a trailing /p2p/<id>. */
export function withoutPeerId(addr: string): string {
  const i = addr.indexOf('/p2p/');
  return i < 0 ? addr : addr.slice(0, i);
}

/** Bootstrap addresses for the remembered peers (not this one). */
export function rememberedBootstrap(m: PeerMemory, self: string | undefined): string[] {
  const out: string[] = [];
  for (const [id, p] of Object.entries(m.peers)) {
    if (id === self) continue;
    for (const a of p.addrs) out.push(withPeerId(a, id));
  }
  return out;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

const TCP_ANY = /^\/ip([46])\/([^/]+)\/tcp\/0$/;

/**
 * The listen addresses to use: a tcp/0 address becomes the port this peer had before on the same
 * host, when that port is free now.
 */
export async function reuseListenPorts(listen: string[], m: PeerMemory): Promise<string[]> {
  const out: string[] = [];
  for (const addr of listen) {
    const any = TCP_ANY.exec(addr);
    const before = any ? m.listen.find((a) => a.startsWith(`/ip${any[1]}/${any[2]}/tcp/`) && !/\/tcp\/0$/.test(a)) : undefined;
    const port = before ? Number(/\/tcp\/(\d+)/.exec(before)?.[1]) : NaN;
    if (any && Number.isInteger(port) && port > 0 && (await portFree(any[2]!, port))) out.push(`/ip${any[1]}/${any[2]}/tcp/${port}`);
    else out.push(addr);
  }
  return out;
}

/** Where the transport knows a connected peer can be dialled (its address book), if it says. */
export type AddressesOf = (peerId: string) => readonly string[] | undefined;

/**
 * Reads MeshTransport's address book (addresses learned from identify, peer exchange and
 * bootstrap). MeshTransport has no public accessor for it yet: this looks for one, then for the
 * book itself, and gives nothing if neither is there.
 */
export function transportAddresses(t: object): AddressesOf {
  const pub = (t as { knownAddresses?: (id: string) => readonly string[] | undefined }).knownAddresses;
  if (typeof pub === 'function') return (id) => pub.call(t, id);
  const book = (t as { connections?: { addresses?: { get?: (id: string) => readonly string[] | undefined } } }).connections?.addresses;
  if (book && typeof book.get === 'function') return (id) => book.get!(id);
  return () => undefined;
}

/** Notes the connected peers' addresses and this peer's own listen addresses. */
export function remember(m: PeerMemory, opts: { self: string; listen: string[]; connected: string[]; addressesOf: AddressesOf; nameOf: (id: string) => string | undefined; now: number }): boolean {
  let changed = false;
  const listen = opts.listen.map(withoutPeerId);
  if (JSON.stringify(listen) !== JSON.stringify(m.listen)) {
    m.listen = listen;
    changed = true;
  }
  for (const id of opts.connected) {
    if (id === opts.self) continue;
    const addrs = (opts.addressesOf(id) ?? []).map(withoutPeerId).filter((a) => !/\/tcp\/0(\/|$)/.test(a)).slice(0, MAX_ADDRS);
    const had = m.peers[id];
    if (addrs.length === 0 && !had) continue;
    const name = opts.nameOf(id) ?? had?.name;
    const next: RememberedPeer = { addrs: addrs.length > 0 ? addrs : had!.addrs, seen: opts.now, ...(name ? { name } : {}) };
    if (!had || JSON.stringify(had.addrs) !== JSON.stringify(next.addrs) || had.name !== next.name || opts.now - had.seen > 60_000) changed = true;
    m.peers[id] = next;
  }
  return changed;
}
