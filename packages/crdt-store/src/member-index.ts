// Member removals (docs/security.md): `members/<peer id>` holds a removal of that member, signed by
// the member that wrote it, with the tags of the removed member's entries the remover held then
// (its keep list). Every replica then ignores the removed member's entries except those (so what
// it wrote before its removal still counts the same everywhere, whatever arrived first), and its
// registry entry and heartbeats; the peer refuses its connections. A removal is never undone.
// Removals themselves are exempt from removals: two members removing each other are both removed.

import * as Y from 'yjs';
import { MeshError } from '@agentmesh/scheduler';
import { ROOT, isId } from './schema.js';
import type { BoardContext } from './board-types.js';
import { TAG_CHARS } from './trust/signature.js';

export interface MemberRemoval {
  peer: string;
  by: string;
  at: number;
  keep: string[];
}

/** Largest keep list of one removal (tags of the removed member's entries). */
export const KEEP_MAX = 200_000;

function parseRemoval(key: string, x: unknown): MemberRemoval | string {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'removal is not an object';
  const r = x as Record<string, unknown>;
  if (r.peer !== key || !isId(r.peer)) return 'removal peer does not match its key';
  if (!isId(r.by)) return 'removal.by is not a peer id';
  if (typeof r.at !== 'number' || !Number.isFinite(r.at)) return 'removal.at is not a number';
  if (!Array.isArray(r.keep) || r.keep.length > KEEP_MAX || !r.keep.every((t) => typeof t === 'string' && t.length === TAG_CHARS)) return 'removal.keep is not a list of tags';
  return { peer: r.peer, by: r.by, at: r.at, keep: r.keep as string[] };
}

/** @internal Owned by one TaskBoard. */
export class MemberIndex {
  readonly membersMap: Y.Map<unknown>;
  readonly removals = new Map<string, MemberRemoval & { keepSet: ReadonlySet<string> }>();

  constructor(
    doc: Y.Doc,
    private readonly ctx: BoardContext,
  ) {
    this.membersMap = doc.getMap(ROOT.members);
  }

  clearIndex(): void {
    this.removals.clear();
  }

  /** Takes `members/<key>` into the index; true when the removals changed. */
  ingest(key: string): boolean {
    const raw = this.membersMap.get(key);
    const had = this.removals.has(key);
    if (raw === undefined) {
      this.removals.delete(key);
      return had;
    }
    const parsed = parseRemoval(key, raw);
    if (typeof parsed === 'string') {
      this.ctx.reject(ROOT.members, key, parsed);
      this.removals.delete(key);
      return had;
    }
    const t = this.ctx.trust;
    if (t && !this.ctx.isLocal() && !t.checkEntry(ROOT.members, key, raw, parsed.by, { keepTag: false, removable: false })) {
      this.removals.delete(key);
      return had;
    }
    this.removals.set(key, { ...parsed, keepSet: new Set(parsed.keep) });
    return true;
  }

  /** Writes a signed removal of `peer` by `by` (this peer), keeping `keep`. */
  remove(peer: string, by: string, at: number, keep: string[]): MemberRemoval {
    if (!isId(peer) || !isId(by)) throw new MeshError('INVALID_ARGUMENT', 'a removal names two peer ids');
    if (keep.length > KEEP_MAX) throw new MeshError('INVALID_ARGUMENT', `a removal keeps at most ${KEEP_MAX} entries`);
    const value = { peer, by, at, keep };
    const t = this.ctx.trust;
    this.ctx.transact(() => this.membersMap.set(peer, t ? t.signed(ROOT.members, peer, value) : value));
    return value;
  }

  /** Removed peer -> what its removal keeps. */
  keepLists(): Map<string, ReadonlySet<string>> {
    return new Map([...this.removals].map(([id, r]) => [id, r.keepSet]));
  }
}
