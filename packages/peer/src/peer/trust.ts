// The peer's side of signed entries (docs/security.md): it builds the EntryTrust every board of
// this peer shares (one per peer, so its counters and removals outlive generation changes), logs
// each entry it refuses, and reports the counters `status` shows. The keys come in through the
// options: node:crypto in the Node entry and the simulator, anything equivalent in a browser.

import { EntryTrust, type TrustCounts, type TrustOptions } from '@agentmesh/crdt-store';
import type { Logger } from '../logger.js';

/** What a peer is given to sign and check entries (its key and how to check others'). */
export type PeerTrustOptions = Omit<TrustOptions, 'onDistrust'>;

/** `status().trust`: whether entries are signed here, and the entries refused so far. */
export interface TrustStatus extends TrustCounts {
  signed: boolean;
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
  return { signed: trust !== undefined, badSignature: trust?.counts.badSignature ?? 0, wrongAuthor: trust?.counts.wrongAuthor ?? 0, removedAuthor: trust?.counts.removedAuthor ?? 0 };
}
