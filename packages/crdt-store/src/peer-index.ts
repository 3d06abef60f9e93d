// The board's peer registry and heartbeats: the validated index of both Y.Maps, the time this
// replica last saw each peer's heartbeat change (its own clock, so liveness never trusts a remote
// clock), and the validated writes of this peer's registry entry and heartbeat.

import * as Y from 'yjs';
import { MeshError, type PeerInfo } from '@agentmesh/scheduler';
import { ROOT, parseBeat, parsePeerInfo, type Beat } from './schema.js';
import { toPlain, type BoardContext } from './board-types.js';

/** @internal Owned by one TaskBoard. */
export class PeerIndex {
  readonly peersMap: Y.Map<unknown>;
  readonly beatsMap: Y.Map<unknown>;
  readonly peerInfos = new Map<string, PeerInfo>();
  readonly beatsIndex = new Map<string, Beat>();
  /** Peer id -> when this replica last saw its heartbeat change. */
  readonly beatSeen = new Map<string, number>();

  constructor(
    doc: Y.Doc,
    private readonly ctx: BoardContext,
  ) {
    this.peersMap = doc.getMap(ROOT.peers);
    this.beatsMap = doc.getMap(ROOT.beats);
  }

  /** Forgets the index (not the heartbeat sighting times) before a rebuild. */
  clearIndex(): void {
    this.peerInfos.clear();
    this.beatsIndex.clear();
  }

  /** Bumped whenever a registry entry changes (readers cache what they derive from the registry). */
  version = 0;

  ingestPeer(id: string): void {
    this.version++;
    const raw = this.peersMap.get(id);
    if (raw === undefined) {
      this.peerInfos.delete(id);
      return;
    }
    const parsed = parsePeerInfo(raw, id);
    if (!parsed.ok || !this.trusted(ROOT.peers, id, raw)) {
      this.peerInfos.delete(id);
      if (!parsed.ok) this.ctx.reject(ROOT.peers, id, parsed.reason);
      return;
    }
    this.peerInfos.set(id, parsed.value);
  }

  /** False when the new heartbeat is invalid (the old one, if any, stays). */
  ingestBeat(id: string): boolean {
    const raw = this.beatsMap.get(id);
    if (raw === undefined) {
      this.beatsIndex.delete(id);
      return true;
    }
    const parsed = parseBeat(raw);
    if (!parsed.ok) {
      this.ctx.reject(ROOT.beats, id, parsed.reason);
      return false;
    }
    if (!this.trusted(ROOT.beats, id, raw)) return false;
    const prev = this.beatsIndex.get(id);
    this.beatsIndex.set(id, parsed.value);
    if (!prev || prev.seq !== parsed.value.seq || prev.at !== parsed.value.at) this.beatSeen.set(id, this.ctx.now());
    return true;
  }

  registerPeer(info: PeerInfo): void {
    const parsed = parsePeerInfo(info, info.id);
    if (!parsed.ok) throw new MeshError('INVALID_ARGUMENT', `invalid peer info: ${parsed.reason}`);
    const cur = this.peerInfos.get(info.id);
    if (cur && JSON.stringify(cur) === JSON.stringify(parsed.value)) return;
    this.ctx.transact(() => this.peersMap.set(info.id, this.sign(ROOT.peers, info.id, toPlain(parsed.value))));
  }

  heartbeat(peer: string, beat: Beat): void {
    this.ctx.transact(() => this.beatsMap.set(peer, this.sign(ROOT.beats, peer, { ...beat })));
  }

  /** A registry entry or heartbeat counts only when signed by the peer it is keyed by. */
  private trusted(map: string, id: string, raw: unknown): boolean {
    const t = this.ctx.trust;
    return !t || this.ctx.isLocal() || t.checkEntry(map, id, raw, id, false);
  }

  private sign(map: string, id: string, value: Record<string, unknown>): Record<string, unknown> {
    return this.ctx.trust ? this.ctx.trust.signed(map, id, value) : value;
  }
}
