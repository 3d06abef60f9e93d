// Who wrote an entry, proven: this peer signs what it writes under its name, and every entry read
// from the document counts only when it carries a valid signature by the author it names, that
// author is a member (its key is known: self-certifying libp2p Ed25519 ids, or a key directory; an
// allow-list when one is set) and it was not removed (docs/security.md). Rejections are counted
// (badSignature, wrongAuthor, removedAuthor) and reported once per entry to `onDistrust`.
// Browser-safe: the hash and the Ed25519 check come in through SignatureScheme.

import { MeshError } from '@agentmesh/scheduler';
import { ed25519KeyOfPeerId, toB64url } from './encoding.js';
import { batchMessage, bodyMessage, entryMessage, leafOf, merkleLevels, merklePath, readSig, rootFromPath, tagOf, type CarriedSig, type EntrySigner, type SignatureScheme } from './signature.js';

export type Distrust = 'badSignature' | 'wrongAuthor' | 'removedAuthor';

/** Tags remembered per author for a removal's keep list (KEEP_MAX of member-index.ts). */
const ACCEPTED_MAX = 200_000;

export interface TrustCounts {
  /** Entries with a missing, malformed or wrong signature (a member writing in another's name). */
  badSignature: number;
  /** Entries naming an author that is no member: no known key, or not on the allow-list. */
  wrongAuthor: number;
  /** Entries of a removed member, written after its removal (not on the removal's keep list). */
  removedAuthor: number;
}

export interface DistrustEvent {
  map: string;
  key: string;
  author: string;
  reason: Distrust;
  detail: string;
}

export interface TrustOptions {
  scheme: SignatureScheme;
  /** This peer's key: it signs every entry the board writes. Without it the board only reads. */
  signer?: EntrySigner;
  /**
   * The public key of an author; default: the key a libp2p Ed25519 peer id embeds. The simulator
   * passes a directory of its peers' keys.
   */
  keyOf?: (author: string) => Uint8Array | undefined;
  /** An allow-list: only these authors count (default: every author with a key). */
  isMember?: (author: string) => boolean;
  onDistrust?: (e: DistrustEvent) => void;
  /** The removed members changed (every id removed so far): a peer hangs up on them. */
  onRemovals?: (removed: string[]) => void;
}

/** What a removal keeps of the removed author: the tags of its entries the remover held. */
export type KeepList = ReadonlySet<string>;

export class EntryTrust {
  readonly counts: TrustCounts = { badSignature: 0, wrongAuthor: 0, removedAuthor: 0 };
  readonly scheme: SignatureScheme;
  private readonly keyOf: (author: string) => Uint8Array | undefined;
  private readonly keys = new Map<string, Uint8Array | null>();
  private readonly removed = new Map<string, KeepList>();
  /** Tags of the entries accepted per author (what a removal of that author keeps). */
  private readonly accepted = new Map<string, Set<string>>();
  /** Entries already verified (author, leaf, signature and place): see checkEntry. */
  private readonly proven = new Set<string>();
  /** Batch signatures already verified for split entries (author, batch, signature, root). */
  private readonly batchRoots = new Set<string>();
  /** Rejections already counted (an entry read again, at a reindex, is counted once). */
  private readonly counted = new Set<string>();

  constructor(private readonly opts: TrustOptions) {
    this.scheme = opts.scheme;
    this.keyOf = opts.keyOf ?? ed25519KeyOfPeerId;
  }

  get author(): string | undefined {
    return this.opts.signer?.author;
  }

  // ---- signing ---------------------------------------------------------------------------------

  private signer(): EntrySigner {
    const s = this.opts.signer;
    if (!s) throw new MeshError('INVALID_ARGUMENT', 'this board has no signing key: it cannot write signed entries');
    return s;
  }

  /** The `sig` of a JSON entry `value` (without `sig`) stored at map/key. */
  signEntry(map: string, key: string, value: unknown): string {
    return toB64url(this.signer().sign(entryMessage(leafOf(this.scheme, map, key, value))));
  }

  /** `value` with its `sig` (a new object). */
  signed<T extends object>(map: string, key: string, value: T): T & { sig: string } {
    const { sig: _old, ...rest } = value as T & { sig?: unknown };
    return { ...(rest as T), sig: this.signEntry(map, key, rest) };
  }

  /** The signature of a batch at map/key over its leaves. */
  signBatch(map: string, key: string, leaves: Uint8Array[]): Uint8Array {
    return this.signBatchLevels(map, key, leaves).sig;
  }

  /** Like signBatch, with the Merkle levels it built (kept for the batch's carried signatures). */
  signBatchLevels(map: string, key: string, leaves: Uint8Array[]): { sig: Uint8Array; levels: Uint8Array[][] } {
    const levels = merkleLevels(this.scheme, leaves);
    return { sig: this.signer().sign(batchMessage(map, key, levels.at(-1)![0]!)), levels };
  }

  /** The body signature of a version 3 batch at map/key (over the SHA-256 of its body bytes). */
  signBatchBody(map: string, key: string, body: Uint8Array): Uint8Array {
    return this.signer().sign(bodyMessage(map, key, this.scheme.sha256(body)));
  }

  /**
   * The `sig` a single entry split out of a batch carries (leaf `i` of `leaves`); `sigText`: the
   * batch signature in base64url (the same for every entry of a batch, so the caller keeps it).
   */
  carried(map: string, key: string, levels: Uint8Array[][], i: number, sigText: string): CarriedSig {
    return { b: map, k: key, i, n: levels[0]!.length, p: toB64url(merklePath(levels, i)), s: sigText };
  }

  levels(leaves: Uint8Array[]): Uint8Array[][] {
    return merkleLevels(this.scheme, leaves);
  }

  // ---- checking --------------------------------------------------------------------------------

  /**
   * True when the JSON entry `value` at map/key carries a valid signature by `author`, a member not
   * removed (or this entry is on its removal's keep list). Otherwise counts and reports, and false.
   * `keepTag` (default true): remember the entry's tag for a later removal of its author (not for
   * overwritten entries such as heartbeats); `removable` (default true): false for removals
   * themselves, which count whatever removals there are.
   */
  checkEntry(map: string, key: string, value: unknown, author: string, opts: boolean | { keepTag?: boolean; removable?: boolean } = true): boolean {
    const keepTag = typeof opts === 'boolean' ? opts : (opts.keepTag ?? true);
    const removable = typeof opts === 'boolean' ? true : (opts.removable ?? true);
    const pk = this.memberKey(map, key, author);
    if (!pk) return false;
    const sig = readSig(value);
    if (sig.kind === 'none' || sig.kind === 'malformed') return this.distrust(map, key, author, 'badSignature', sig.kind === 'none' ? 'no signature' : 'malformed signature');
    const leaf = leafOf(this.scheme, map, key, value);
    // The same entry is read again at every generation move and reindex: a leaf proven once under
    // the same signature (and place in its batch) is not checked again.
    const proven = `${author}\u0000${toB64url(leaf)}\u0000${sig.kind === 'direct' ? sig.text : `${sig.c.b}\u0000${sig.c.k}\u0000${sig.c.s}\u0000${sig.c.i}\u0000${sig.c.n}`}`;
    let ok: boolean;
    if (this.proven.has(proven)) ok = true;
    else if (sig.kind === 'direct') ok = this.scheme.verify(pk, entryMessage(leaf), sig.sig);
    else {
      const root = sig.c.b === 'segs' || sig.c.b === 'acts' ? rootFromPath(this.scheme, leaf, sig.c.i, sig.c.n, sig.path) : undefined;
      // The entries split out of one batch share its signature and root: one Ed25519 check for all.
      const memo = root && `${author}\u0000${sig.c.b}\u0000${sig.c.k}\u0000${sig.c.s}\u0000${toB64url(root)}`;
      ok = memo !== undefined && (this.batchRoots.has(memo) || this.scheme.verify(pk, batchMessage(sig.c.b, sig.c.k, root!), sig.sig));
      if (ok && memo && !this.batchRoots.has(memo)) {
        if (this.batchRoots.size >= 10_000) this.batchRoots.clear();
        this.batchRoots.add(memo);
      }
    }
    if (!ok) return this.distrust(map, key, author, 'badSignature', 'the signature does not verify under the named author\'s key');
    if (!this.proven.has(proven)) {
      if (this.proven.size >= 200_000) this.proven.clear();
      this.proven.add(proven);
    }
    return removable ? this.admit(map, key, author, tagOf(sig.sig), keepTag) : true;
  }

  /** As checkEntry, for a batch entry: its signature over the Merkle root of `leaves`. */
  checkBatch(map: string, key: string, leaves: Uint8Array[], sig: Uint8Array | undefined, author: string): boolean {
    return this.checkBatchLevels(map, key, () => merkleLevels(this.scheme, leaves), sig, author) !== undefined;
  }

  /**
   * Like checkBatch, with the leaves built only once the author is known to be a member; returns
   * the batch's Merkle levels when it verifies (kept for its carried signatures), else undefined.
   */
  checkBatchLevels(map: string, key: string, levelsOf: () => Uint8Array[][], sig: Uint8Array | undefined, author: string): Uint8Array[][] | undefined {
    const pk = this.memberKey(map, key, author);
    if (!pk) return undefined;
    if (!sig) {
      this.distrust(map, key, author, 'badSignature', 'unsigned batch');
      return undefined;
    }
    const levels = levelsOf();
    if (!this.scheme.verify(pk, batchMessage(map, key, levels.at(-1)![0]!), sig)) {
      this.distrust(map, key, author, 'badSignature', 'the batch signature does not verify under the named author\'s key');
      return undefined;
    }
    return this.admit(map, key, author, tagOf(sig), true) ? levels : undefined;
  }

  /**
   * As checkBatchLevels, for a version 3 batch: its body signature over the SHA-256 of `body` (one
   * hash of the bytes, no leaves). `rootSig` (its Merkle root's signature, checked when the batch is
   * first split: rootVerifies) names the batch in a removal's keep list, as its split entries do.
   */
  checkBatchBody(map: string, key: string, body: Uint8Array, bodySig: Uint8Array | undefined, rootSig: Uint8Array | undefined, author: string): boolean {
    const pk = this.memberKey(map, key, author);
    if (!pk) return false;
    if (!bodySig || !rootSig) return this.distrust(map, key, author, 'badSignature', 'unsigned batch');
    if (!this.scheme.verify(pk, bodyMessage(map, key, this.scheme.sha256(body)), bodySig)) {
      return this.distrust(map, key, author, 'badSignature', 'the batch body signature does not verify under the named author\'s key');
    }
    return this.admit(map, key, author, tagOf(rootSig), true);
  }

  /**
   * True when `sig` signs the Merkle root of `levels` under `author`'s key: for a batch accepted by
   * its body signature, before entries split out of it carry `sig`. A false one is counted (an
   * author whose two signatures disagree); its split entries then go unsigned, and other replicas
   * refuse them.
   */
  rootVerifies(map: string, key: string, levels: Uint8Array[][], sig: Uint8Array, author: string): boolean {
    const pk = this.publicKey(author);
    if (pk && this.scheme.verify(pk, batchMessage(map, key, levels.at(-1)![0]!), sig)) return true;
    return this.distrust(map, key, author, 'badSignature', 'the batch signature of its Merkle root does not verify under the named author\'s key');
  }

  /** True when `author` may write at all (a key, a member); no count. */
  isMember(author: string): boolean {
    return this.publicKey(author) !== undefined && (this.opts.isMember?.(author) ?? true);
  }

  // ---- removals --------------------------------------------------------------------------------

  /** Sets the removed authors and what each removal keeps; true when that changed anything. */
  setRemovals(next: ReadonlyMap<string, KeepList>): boolean {
    let same = next.size === this.removed.size;
    for (const [a, keep] of next) if (this.removed.get(a) !== keep) same = false;
    if (same) return false;
    this.removed.clear();
    for (const [a, keep] of next) this.removed.set(a, keep);
    try {
      this.opts.onRemovals?.([...this.removed.keys()].sort());
    } catch {
      // a broken listener must not break ingestion
    }
    return true;
  }

  isRemoved(author: string): boolean {
    return this.removed.has(author);
  }

  /** Every removed member, sorted. */
  removedIds(): string[] {
    return [...this.removed.keys()].sort();
  }

  /** The tags of `author`'s entries accepted so far (the keep list of a removal written now). */
  acceptedTags(author: string): string[] {
    return [...(this.accepted.get(author) ?? [])].sort();
  }

  // ---- internals -------------------------------------------------------------------------------

  private publicKey(author: string): Uint8Array | undefined {
    let k = this.keys.get(author);
    if (k === undefined) {
      k = this.keyOf(author) ?? null;
      if (this.keys.size < 100_000) this.keys.set(author, k);
    }
    return k ?? undefined;
  }

  private memberKey(map: string, key: string, author: string): Uint8Array | undefined {
    const pk = this.publicKey(author);
    if (!pk) {
      this.distrust(map, key, author, 'wrongAuthor', 'the named author has no known key');
      return undefined;
    }
    if (this.opts.isMember && !this.opts.isMember(author)) {
      this.distrust(map, key, author, 'wrongAuthor', 'the named author is not on the allow-list');
      return undefined;
    }
    return pk;
  }

  private admit(map: string, key: string, author: string, tag: string, keepTag: boolean): boolean {
    const keep = this.removed.get(author);
    if (keep && !keep.has(tag)) return this.distrust(map, key, author, 'removedAuthor', 'written by a removed member after its removal');
    if (keepTag) {
      let set = this.accepted.get(author);
      if (!set) this.accepted.set(author, (set = new Set()));
      set.add(tag);
      // Bounded like a removal's keep list: the oldest tags go first (their entries are the likeliest
      // to have been archived already).
      if (set.size > ACCEPTED_MAX) set.delete(set.values().next().value!);
    }
    return true;
  }

  private distrust(map: string, key: string, author: string, reason: Distrust, detail: string): false {
    const id = `${reason}\u0000${map}\u0000${key}`;
    if (this.counted.has(id)) return false;
    if (this.counted.size < 100_000) this.counted.add(id);
    this.counts[reason]++;
    try {
      this.opts.onDistrust?.({ map, key: key.slice(0, 200), author: author.slice(0, 200), reason, detail });
    } catch {
      // a broken listener must not break ingestion
    }
    return false;
  }
}
