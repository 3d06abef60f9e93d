// The partition switch behind `agentmesh partition --block`: the set of blocked peer ids and the
// decisions that follow from it, for libp2p's connection gater (no dials to them, no connection
// with them once the handshake names them) and for gossip (nothing they wrote or relayed). A real
// partition blocks on both sides. Pure: MeshTransport.block() does the hang-ups.
// Peers that are not members (not on the allow-list, or removed: `admits` says no) are refused
// the same way, whatever the partition switch says (docs/security.md).

import type { ConnectionGater, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { peerOfAddr } from './address-book.js';

export class PartitionGater {
  /** `blocked` may be shared: every gater over one set decides alike. */
  constructor(
    private readonly blocked: Set<string> = new Set(),
    private readonly admits?: (id: string) => boolean,
  ) {}

  /** True when `id` is blocked or is no member. */
  has(id: string): boolean {
    return this.blocked.has(id) || (this.admits !== undefined && !this.admits(id));
  }

  list(): string[] {
    return [...this.blocked];
  }

  block(id: string): void {
    this.blocked.add(id);
  }

  /** Lifts every block; returns the peers that were blocked. */
  unblockAll(): string[] {
    const ids = [...this.blocked];
    this.blocked.clear();
    return ids;
  }

  /** A dial to this address is refused when it names a blocked peer. */
  deniesAddr(ma: Multiaddr): boolean {
    const id = peerOfAddr(ma);
    return id !== undefined && this.has(id);
  }

  /** Gossip written by `from` and relayed to us by `source` is dropped if either is blocked. */
  refusesGossip(from: string, source: string): boolean {
    return this.has(from) || this.has(source);
  }

  /** The gater createLibp2p gets. */
  connectionGater(): ConnectionGater {
    return {
      denyDialPeer: (peer: PeerId) => this.has(peer.toString()),
      denyDialMultiaddr: (ma: Multiaddr) => this.deniesAddr(ma),
      denyInboundEncryptedConnection: (peer: PeerId) => this.has(peer.toString()),
      denyOutboundEncryptedConnection: (peer: PeerId) => this.has(peer.toString()),
    };
  }
}
