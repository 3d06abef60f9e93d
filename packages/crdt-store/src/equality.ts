// Replica equality that covers deletions. A state vector alone misses deletes (they carry no clock),
// so two replicas are equal only when their state vectors AND delete sets match, which is exactly
// what a Yjs snapshot encodes.

import * as Y from 'yjs';
import { toBase64 } from 'lib0/buffer';

/** A canonical byte string of a replica's state (state vector + delete set), base64. */
export function replicaFingerprint(doc: Y.Doc): string {
  return toBase64(Y.encodeSnapshot(Y.snapshot(doc)));
}

/** True when both replicas hold the same items and the same deletions. */
export function sameReplicaState(a: Y.Doc, b: Y.Doc): boolean {
  return Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b));
}

/** Encoded size of the whole document, in bytes (what a fresh peer would download). */
export function encodedSize(doc: Y.Doc): number {
  return Y.encodeStateAsUpdate(doc).byteLength;
}
