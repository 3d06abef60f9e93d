// What an entry's signature covers and how it is checked (docs/security.md, "Signed entries").
// A JSON entry signs its leaf: SHA-256 of (map, key, canonical JSON of the value without `sig`).
// A batch entry (a task batch or an activity batch: one binary value standing for many tasks)
// signs the Merkle root of the leaves of the single entries it stands for (a task entry per task,
// a fact entry per record), so when a generation copy or the archive splits it into single
// entries, each carries the batch signature and its Merkle path and still verifies under its
// original author. One signature per batch keeps the cost per task small.
// The crypto is injected (SignatureScheme, EntrySigner): this module stays browser-safe.

import { canonicalJson, concatBytes, fromB64url, toB64url, utf8 } from './encoding.js';

/** The hash and signature check the trust layer uses (node:crypto in Node; anything equivalent elsewhere). */
export interface SignatureScheme {
  /** SHA-256 of `data` (32 bytes); a string is hashed as its UTF-8 bytes. */
  sha256(data: Uint8Array | string): Uint8Array;
  /** Ed25519 verification of a 64-byte signature under a 32-byte key; false (never a throw) for anything malformed. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** This peer's own key: it signs every entry the peer writes under its name. */
export interface EntrySigner {
  /** The peer id entries are signed as. */
  readonly author: string;
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** The `sig` of a single entry split out of a batch: the batch signature and the leaf's Merkle path. */
export interface CarriedSig {
  /** The batch's map ('segs' or 'acts') and key. */
  b: string;
  k: string;
  /** Index of this leaf in the batch and the number of leaves. */
  i: number;
  n: number;
  /** Sibling hashes from the leaf up (base64url of their concatenation). */
  p: string;
  /** The batch signature (base64url). */
  s: string;
}

export const SIGNATURE_BYTES = 64;
/** Characters of a signature's tag: its first 12 bytes in base64url (what a removal's keep list holds). */
export const TAG_CHARS = 16;

const PREFIX = 'agentmesh/sig/1\u0000';

/** SHA-256 over (map, key, canonical JSON of `value` without its `sig`): what a JSON entry signs. */
export function leafOf(scheme: SignatureScheme, map: string, key: string, value: unknown): Uint8Array {
  return scheme.sha256(`L\u0000${map}\u0000${key}\u0000${canonicalJson(value, 'sig')}`);
}

/** The bytes a single entry's signature is made over. */
export function entryMessage(leaf: Uint8Array): Uint8Array {
  return concatBytes(utf8(`${PREFIX}E\u0000`), leaf);
}

/** The bytes a version 3 batch's body signature is made over (`digest`: SHA-256 of the body). */
export function bodyMessage(map: string, key: string, digest: Uint8Array): Uint8Array {
  return concatBytes(utf8(`${PREFIX}R\u0000${map}\u0000${key}\u0000`), digest);
}

/** The bytes a batch signature is made over. */
export function batchMessage(map: string, key: string, root: Uint8Array): Uint8Array {
  return concatBytes(utf8(`${PREFIX}B\u0000${map}\u0000${key}\u0000`), root);
}

function node(scheme: SignatureScheme, a: Uint8Array, b: Uint8Array): Uint8Array {
  const buf = new Uint8Array(65);
  buf[0] = 1;
  buf.set(a, 1);
  buf.set(b, 33);
  return scheme.sha256(buf);
}

/** Levels of the Merkle tree over `leaves` (level 0 = the leaves; a last odd node moves up as it is). */
export function merkleLevels(scheme: SignatureScheme, leaves: Uint8Array[]): Uint8Array[][] {
  const levels = [leaves];
  let cur = leaves;
  while (cur.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < cur.length; i += 2) next.push(i + 1 < cur.length ? node(scheme, cur[i]!, cur[i + 1]!) : cur[i]!);
    levels.push(next);
    cur = next;
  }
  return levels;
}

export function merkleRoot(scheme: SignatureScheme, leaves: Uint8Array[]): Uint8Array {
  return merkleLevels(scheme, leaves).at(-1)![0]!;
}

/** The sibling hashes of leaf `i`, from the bottom up (levels without a sibling are skipped). */
export function merklePath(levels: Uint8Array[][], i: number): Uint8Array {
  // Written in place (no list of siblings, no spread): one path per archived fact.
  const sibling = (l: number, idx: number): Uint8Array | undefined => levels[l]![idx ^ 1];
  let n = 0;
  for (let l = 0, idx = i; l < levels.length - 1; l++, idx >>= 1) n += sibling(l, idx)?.length ?? 0;
  const out = new Uint8Array(n);
  let o = 0;
  for (let l = 0, idx = i; l < levels.length - 1; l++, idx >>= 1) {
    const sib = sibling(l, idx);
    if (sib) {
      out.set(sib, o);
      o += sib.length;
    }
  }
  return out;
}

/** The root that leaf `i` of `n` with this path leads to; undefined when the path has the wrong length. */
export function rootFromPath(scheme: SignatureScheme, leaf: Uint8Array, i: number, n: number, path: Uint8Array): Uint8Array | undefined {
  if (!Number.isSafeInteger(i) || !Number.isSafeInteger(n) || i < 0 || i >= n || n > 1 << 20 || path.length % 32 !== 0) return undefined;
  let h = leaf;
  let idx = i;
  let width = n;
  let o = 0;
  while (width > 1) {
    const sib = idx ^ 1;
    if (sib < width) {
      if (o + 32 > path.length) return undefined;
      const s = path.subarray(o, o + 32);
      o += 32;
      h = idx & 1 ? node(scheme, s, h) : node(scheme, h, s);
    }
    idx >>= 1;
    width = (width + 1) >> 1;
  }
  return o === path.length ? h : undefined;
}

/** A `sig` member as found in a JSON entry: a direct signature, a carried one, or junk. */
export type SigField = { kind: 'direct'; sig: Uint8Array; text: string } | { kind: 'carried'; c: CarriedSig; sig: Uint8Array; path: Uint8Array } | { kind: 'none' } | { kind: 'malformed' };

export function readSig(value: unknown): SigField {
  const raw = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { sig?: unknown }).sig : undefined;
  if (raw === undefined) return { kind: 'none' };
  if (typeof raw === 'string') {
    const sig = fromB64url(raw);
    return sig && sig.length === SIGNATURE_BYTES ? { kind: 'direct', sig, text: raw } : { kind: 'malformed' };
  }
  if (typeof raw !== 'object' || raw === null) return { kind: 'malformed' };
  const c = raw as Partial<CarriedSig>;
  if (typeof c.b !== 'string' || typeof c.k !== 'string' || typeof c.i !== 'number' || typeof c.n !== 'number' || typeof c.p !== 'string' || typeof c.s !== 'string') return { kind: 'malformed' };
  const sig = fromB64url(c.s);
  const path = fromB64url(c.p);
  if (!sig || sig.length !== SIGNATURE_BYTES || !path) return { kind: 'malformed' };
  return { kind: 'carried', c: c as CarriedSig, sig, path };
}

/** The tag of a signature (its first 12 bytes, base64url): how a removal's keep list names an entry. */
export function tagOf(sig: Uint8Array): string {
  return toB64url(sig.subarray(0, 12));
}
