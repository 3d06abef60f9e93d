// Signed entries in the simulator (docs/security.md): its peers have short ids ("p0", "p1", ...)
// that embed no key, so each gets an Ed25519 key derived from the run's seed and its id, and every
// peer checks authors against that key directory. Ed25519 signing is deterministic, so the same
// seed still gives the same run, byte for byte.

import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { EntrySigner, SignatureScheme } from '@agentmesh/crdt-store';
import type { PeerTrustOptions } from '@agentmesh/peer';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

function signerOf(author: string, seed: Uint8Array): { signer: EntrySigner; verifyKey: KeyObject } {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(key);
  const spki = pub.export({ format: 'der', type: 'spki' });
  return { signer: { author, publicKey: new Uint8Array(spki.subarray(spki.length - 32)), sign: (m) => new Uint8Array(sign(null, m, key)) }, verifyKey: pub };
}

/** The keys of one simulated mesh: derived from the run's seed, one per peer id. */
export class SimKeys {
  private readonly byId = new Map<string, { signer: EntrySigner; verifyKey: KeyObject }>();
  private readonly byKey = new Map<string, KeyObject>();
  readonly scheme: SignatureScheme;

  constructor(seed: number, ids: readonly string[]) {
    for (const id of ids) {
      const s = createHash('sha256').update(`agentmesh-sim-key:${seed}:${id}`).digest();
      const k = signerOf(id, new Uint8Array(s));
      this.byId.set(id, k);
      this.byKey.set(Buffer.from(k.signer.publicKey).toString('hex'), k.verifyKey);
    }
    this.scheme = {
      sha256: (d) => createHash('sha256').update(d).digest(),
      verify: (pk, m, sig) => {
        const k = this.byKey.get(Buffer.from(pk).toString('hex'));
        if (!k || sig.length !== 64) return false;
        try {
          return verify(null, m, k, sig);
        } catch {
          return false;
        }
      },
    };
  }

  /** The trust options of peer `id` (its signer, the mesh's key directory). */
  trustFor(id: string): PeerTrustOptions {
    const own = this.byId.get(id);
    if (!own) throw new Error(`no simulated key for ${id}`);
    return { scheme: this.scheme, signer: own.signer, keyOf: (a) => this.byId.get(a)?.signer.publicKey };
  }
}
