// The peer's side of signed entries (docs/security.md): it builds the EntryTrust every board of
// this peer shares (one per peer, so its counters and removals outlive generation changes), logs
// each entry it refuses, and reports the counters `status` shows. The keys come in through the
// options: node:crypto in the Node entry and the simulator, anything equivalent in a browser.

import { EntryTrust, isId, type MemberRemoval, type TaskBoard, type TrustCounts, type TrustOptions } from '@agentmesh/crdt-store';
import { MeshError } from '@agentmesh/scheduler';
import type { Logger } from '../logger.js';

/** What a peer is given to sign and check entries (its key and how to check others'). */
export type PeerTrustOptions = Omit<TrustOptions, 'onDistrust'>;

/** `status().trust`: whether entries are signed here, and the entries refused so far. */
export interface TrustStatus extends TrustCounts {
  signed: boolean;
  /** Members removed from the mesh (their later entries are ignored, their connections refused). */
  removed: string[];
}

export function peerTrust(opts: PeerTrustOptions | undefined, log: Logger, onRefused: (source: string, reason: string) => void): EntryTrust | undefined {
  if (!opts) return undefined;
  return new EntryTrust({
    ...opts,
    onDistrust: (e) => {
      log.log('warn', 'ignored untrusted entry', { map: e.map, key: e.key, author: e.author, reason: e.reason, detail: e.detail });
      onRefused(`${e.map}/${e.key}`, `${e.reason}: ${e.detail}`);
    },
  });
}

export function trustStatus(trust: EntryTrust | undefined): TrustStatus {
  return { signed: trust !== undefined, badSignature: trust?.counts.badSignature ?? 0, wrongAuthor: trust?.counts.wrongAuthor ?? 0, removedAuthor: trust?.counts.removedAuthor ?? 0, removed: trust?.removedIds() ?? [] };
}

/** `peer.members`: removing a member and asking who was removed. */
export class Members {
  constructor(
    private readonly self: string,
    private readonly trust: EntryTrust | undefined,
    private readonly board: () => TaskBoard,
    private readonly now: () => number,
    private readonly flush: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  /**
   * Removes a member from the mesh (docs/security.md): a removal signed by this peer, keeping what
   * the member wrote that this peer holds; every peer then ignores its later entries and refuses
   * its connections. Resolves once the removal is durable here.
   */
  async remove(peer: string): Promise<MemberRemoval> {
    if (!this.trust) throw new MeshError('INVALID_ARGUMENT', 'this peer does not sign entries: it cannot remove members');
    if (!isId(peer) || !this.trust.isMember(peer)) throw new MeshError('INVALID_ARGUMENT', `${JSON.stringify(peer)} is not a member's peer id`);
    if (peer === this.self) throw new MeshError('INVALID_ARGUMENT', 'a peer cannot remove itself');
    const existing = this.board().removedMembers().find((r) => r.peer === peer);
    const r = existing ?? this.board().removeMember(peer, this.self, this.now());
    if (!existing) this.log.log('warn', 'removed a member', { peer, keep: r.keep.length });
    await this.flush();
    return r;
  }

  isRemoved(peer: string): boolean {
    return this.trust?.isRemoved(peer) ?? false;
  }

  removed(): string[] {
    return this.trust?.removedIds() ?? [];
  }
}
