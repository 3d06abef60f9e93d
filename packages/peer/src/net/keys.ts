// Identity and private-network keys for the libp2p transport: the peer's Ed25519 key (persisted
// by the CLI in its data dir so a restart keeps the same peer id) and the pre-shared key of a
// private mesh, derived deterministically from the operator's secret string.

import { createHash } from 'node:crypto';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { MeshError } from '@agentmesh/scheduler';

export type { PrivateKey } from '@libp2p/interface';

/** A fresh Ed25519 peer key. */
export async function generatePeerKey(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519');
}

/** The key in libp2p's protobuf encoding (what `peerKeyFromBytes` reads back). */
export function peerKeyToBytes(key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key);
}

/** Reads a key written by `peerKeyToBytes`; throws MeshError('INVALID_ARGUMENT') on bad bytes. */
export function peerKeyFromBytes(bytes: Uint8Array): PrivateKey {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) throw new MeshError('INVALID_ARGUMENT', 'peer key bytes are empty');
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (e) {
    throw new MeshError('INVALID_ARGUMENT', `peer key bytes are not a valid private key: ${(e as Error).message}`);
  }
}

/** The peer id string a key stands for. */
export function peerIdOfKey(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}

/**
 * The libp2p pnet pre-shared key for a mesh secret, in the swarm key file format
 * ('/key/swarm/psk/1.0.0/\n/base16/\n' + 64 hex digits). Same secret, same key, on every peer.
 */
export function pskFromSecret(secret: string): Uint8Array {
  if (typeof secret !== 'string' || secret.length === 0) throw new MeshError('INVALID_ARGUMENT', 'mesh secret must be a non-empty string');
  const hex = createHash('sha256').update('agentmesh-psk-v1:' + secret, 'utf8').digest('hex');
  return new TextEncoder().encode('/key/swarm/psk/1.0.0/\n/base16/\n' + hex);
}
