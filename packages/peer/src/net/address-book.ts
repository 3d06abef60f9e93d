// Where known peers can be dialled: addresses from the bootstrap list, identify and peer exchange,
// at most 8 per peer and 1,024 peers; past that the oldest entries go, never one its owner keeps
// (bootstrap and connected peers). Also the multiaddr helpers the transport's parts share.

import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';

/** Addresses kept per peer (and accepted per peer in a peer exchange). */
export const MAX_ADDRS_PER_PEER = 8;
/** Peers remembered before the oldest are forgotten. */
export const KNOWN_PEERS_MAX = 1024;

const CODE_P2P = 421;

/** The peer id an address ends in (/p2p/<id>), if any. */
export function peerOfAddr(ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.code === CODE_P2P)?.value;
}

/** The host part of an address ('unknown' without one), to rate-limit warnings per remote host. */
export function hostOfAddr(addr: string | undefined): string {
  if (!addr) return 'unknown';
  try {
    const c = multiaddr(addr).getComponents()[0];
    return c?.value ?? addr;
  } catch {
    return addr;
  }
}

/** An address on 0.0.0.0 or ::, which means nothing to another host. */
export function isWildcard(ma: Multiaddr): boolean {
  const c = ma.getComponents()[0];
  return c?.value === '0.0.0.0' || c?.value === '::';
}

/** `ma` ending in /p2p/<id> (appended unless it already names a peer). */
export function withPeer(ma: Multiaddr, id: string): Multiaddr {
  return peerOfAddr(ma) ? ma : ma.encapsulate(`/p2p/${id}`);
}

export class AddressBook {
  private readonly addrs = new Map<string, string[]>();

  /** `keep(id)`: never forget this peer to make room. */
  constructor(
    private readonly keep: (id: string) => boolean,
    private readonly limits: { maxPeers: number; maxAddrs: number } = { maxPeers: KNOWN_PEERS_MAX, maxAddrs: MAX_ADDRS_PER_PEER },
  ) {}

  has(id: string): boolean {
    return this.addrs.has(id);
  }

  get(id: string): readonly string[] | undefined {
    return this.addrs.get(id);
  }

  get size(): number {
    return this.addrs.size;
  }

  /** Adds `addrs` in front of what is known (or replaces it); the peer becomes the newest entry. */
  remember(id: string, addrs: string[], replace = false): void {
    const prev = replace ? [] : (this.addrs.get(id) ?? []);
    const merged = [...new Set([...addrs, ...prev])].slice(0, this.limits.maxAddrs);
    this.addrs.delete(id);
    this.addrs.set(id, merged);
    // Forget the oldest entries beyond the cap (Map keeps insertion order), never a kept peer.
    for (const k of this.addrs.keys()) {
      if (this.addrs.size <= this.limits.maxPeers) break;
      if (!this.keep(k)) this.addrs.delete(k);
    }
  }

  /** The known addresses of `id` that parse, ready to dial. */
  dialable(id: string): Multiaddr[] {
    const out: Multiaddr[] = [];
    for (const a of this.addrs.get(id) ?? []) {
      try {
        out.push(multiaddr(a));
      } catch {
        // skip
      }
    }
    return out;
  }
}
