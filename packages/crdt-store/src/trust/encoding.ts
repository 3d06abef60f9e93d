// Byte and text encodings the signatures need, browser-safe (no Buffer, no node:crypto):
// base64url for signatures and keys inside JSON entries, the canonical JSON text an entry's
// signature covers (sorted keys, so two replicas holding equal values hash equal bytes whatever
// order Yjs or JSON gave their keys), and the public key a libp2p Ed25519 peer id embeds.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
// Arguments per String.fromCharCode call (well under engines' argument limits).
const CHUNK = 8192;

/**
 * base64url without padding. Built as char codes and turned into one flat string: appending four
 * characters at a time made a rope of a hundred pieces per Merkle path, which every later
 * JSON.stringify had to flatten (a third of an archive row's cost) and the GC to collect.
 */
export function toB64url(bytes: Uint8Array): string {
  const len = bytes.length;
  const codes = new Array<number>(Math.ceil((len * 4) / 3));
  let o = 0;
  let i = 0;
  for (; i + 2 < len; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    codes[o++] = B64_CODES[n >> 18]!;
    codes[o++] = B64_CODES[(n >> 12) & 63]!;
    codes[o++] = B64_CODES[(n >> 6) & 63]!;
    codes[o++] = B64_CODES[n & 63]!;
  }
  const rest = len - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    codes[o++] = B64_CODES[n >> 18]!;
    codes[o++] = B64_CODES[(n >> 12) & 63]!;
    if (rest === 2) codes[o++] = B64_CODES[(n >> 6) & 63]!;
  }
  if (o <= CHUNK) return String.fromCharCode.apply(null, codes);
  let out = '';
  for (let c = 0; c < o; c += CHUNK) out += String.fromCharCode.apply(null, codes.slice(c, c + CHUNK));
  return out;
}

/** Decodes base64url without padding; undefined for anything else. */
export function fromB64url(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return o === out.length ? out : undefined;
}

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units), no whitespace, undefined members
 * left out (JSON's own rule), the `omit` key of the top-level object left out (the signature
 * itself). Values are plain JSON (the schema checks that before anything is hashed).
 */
export function canonicalJson(value: unknown, omit?: string): string {
  return canon(value, omit);
}

/** Keys and string values that JSON writes as they are (no escapes): the common case, quoted by hand. */
const PLAIN = /^[A-Za-z0-9_$.:-]*$/;

// Every peer runs this for every fact it signs or verifies (a leaf each). Hand-quoting plain keys
// and strings and writing numbers directly took it from about 2.8 to 1.6 us for a task's spec.
// The output is exactly JSON.stringify's for each member (tested against a plain reference).
function canon(v: unknown, omit?: string): string {
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + canon(v[i]);
    return out + ']';
  }
  const keys = Object.keys(v);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    if (k === omit) continue;
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    out += (first ? '' : ',') + (PLAIN.test(k) ? '"' + k + '"' : JSON.stringify(k)) + ':' + member(x);
    first = false;
  }
  return out + '}';
}

function member(x: unknown): string {
  switch (typeof x) {
    case 'string':
      return PLAIN.test(x) ? '"' + x + '"' : JSON.stringify(x);
    case 'number':
      return Number.isFinite(x) ? String(x) : 'null';
    case 'boolean':
      return x ? 'true' : 'false';
    default:
      return canon(x);
  }
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const B58_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B58.length; i++) B58_INDEX[B58.charCodeAt(i)] = i;

/** Decodes base58btc (bitcoin alphabet); undefined for a character outside it. */
export function fromBase58(text: string): Uint8Array | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let carry = c < 128 ? B58_INDEX[c]! : -1;
    if (carry < 0) return undefined;
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j]! * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < text.length && text[i] === '1'; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

// An Ed25519 libp2p peer id ("12D3KooW...") is base58btc of an identity multihash (code 0x00,
// length 36) of the protobuf PublicKey { Type = Ed25519 (1), Data = 32 bytes }.
const PEER_ID_PREFIX = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/** The Ed25519 public key a libp2p peer id embeds, or undefined when it embeds none. */
export function ed25519KeyOfPeerId(id: string): Uint8Array | undefined {
  if (!id.startsWith('12D3KooW') || id.length < 50 || id.length > 54) return undefined;
  const bytes = fromBase58(id);
  if (!bytes || bytes.length !== 38) return undefined;
  for (let i = 0; i < PEER_ID_PREFIX.length; i++) if (bytes[i] !== PEER_ID_PREFIX[i]) return undefined;
  return bytes.slice(6);
}
