// Makes a mesh-secret mismatch fail fast and visibly. With libp2p pnet alone, two peers holding
// different pre-shared keys both decrypt garbage and multistream-select then either errors or,
// about half the time, waits for a garbled "length" worth of bytes that never come, until the
// 10 s inbound upgrade timeout; nothing says why. This protector wraps @libp2p/pnet: once the
// XSalsa20 stream is set up, each side sends a fixed 16-byte marker through it and checks the
// marker it receives. Only the same PSK decrypts it, so a mismatch is detected on both sides
// within one one-way delay and reported through `onRefused` with the remote address.
// (Wire effect: pnet + 16 bytes each way; only agentmesh peers speak it.)

import { errorDetail } from '../errors.js';
import { preSharedKey } from '@libp2p/pnet';
import type { AbortOptions, ConnectionProtector, MessageStream, StreamMessageEvent } from '@libp2p/interface';

const MARKER = new TextEncoder().encode('agentmesh/pnet/1'); // 16 bytes
const CHECK_TIMEOUT_MS = 10_000;

export class MeshSecretMismatchError extends Error {
  override readonly name = 'MeshSecretMismatchError';
  constructor(
    message: string,
    readonly remoteAddr: string | undefined,
    readonly direction: 'inbound' | 'outbound',
  ) {
    super(message);
  }
}

export type RefusedHandler = (info: { direction: 'inbound' | 'outbound'; remoteAddr: string | undefined; reason: string }) => void;

function remoteOf(stream: MessageStream): string | undefined {
  const addr = (stream as { remoteAddr?: { toString(): string } }).remoteAddr;
  return addr ? addr.toString() : undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Sends the marker and reads the peer's; leftover bytes are pushed back for the next reader. */
function checkMarker(stream: MessageStream, remoteAddr: string | undefined, options: AbortOptions | undefined): Promise<void> {
  const direction = stream.direction;
  return new Promise<void>((resolve, reject) => {
    const bufs: Uint8Array[] = [];
    let n = 0;
    let done = false;
    const timeoutSignal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    const signal = options?.signal ? AbortSignal.any([options.signal, timeoutSignal]) : timeoutSignal;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onMessage = (evt: StreamMessageEvent) => {
      if (done) return;
      const data = evt.data;
      for (const b of data instanceof Uint8Array ? [data] : data) {
        bufs.push(b.slice());
        n += b.byteLength;
      }
      if (n < MARKER.byteLength) return;
      const all = new Uint8Array(n);
      let o = 0;
      for (const b of bufs) {
        all.set(b, o);
        o += b.byteLength;
      }
      if (!equalBytes(all.subarray(0, MARKER.byteLength), MARKER)) {
        const err = new MeshSecretMismatchError('mesh secret mismatch: the remote peer uses a different (or no) secret', remoteAddr, direction);
        finish(err);
        stream.abort(err);
        return;
      }
      // Hand back what followed the marker before anyone else can listen (we are still in the
      // event: no listener is left, so it waits in the read buffer for multistream-select).
      finish();
      if (n > MARKER.byteLength) stream.unshift(all.slice(MARKER.byteLength));
    };
    const onClose = () => {
      finish(new MeshSecretMismatchError('connection closed during the mesh secret check (wrong or missing secret on the remote?)', remoteAddr, direction));
    };
    const onAbort = () => {
      const err = new MeshSecretMismatchError('mesh secret check timed out', remoteAddr, direction);
      finish(err);
      stream.abort(err);
    };
    if (signal.aborted) return onAbort();
    stream.addEventListener('message', onMessage);
    stream.addEventListener('close', onClose);
    signal.addEventListener('abort', onAbort);
    try {
      stream.send(MARKER);
    } catch (e) {
      finish(e instanceof Error ? e : new Error(String(e)));
    }
  });
}

/** A libp2p connectionProtector: pnet with `psk` plus the marker check. */
export function guardedPreSharedKey(psk: Uint8Array, onRefused: RefusedHandler): () => ConnectionProtector {
  const makeInner = preSharedKey({ psk });
  return () => {
    const inner = makeInner();
    return {
      async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
        const remoteAddr = remoteOf(connection);
        let stream: MessageStream;
        try {
          stream = await inner.protect(connection, options);
          await checkMarker(stream, remoteAddr, options);
        } catch (e) {
          const reason = errorDetail(e);
          try {
            onRefused({ direction: connection.direction, remoteAddr, reason });
          } catch {
            // reporting must not change the outcome
          }
          throw e;
        }
        return stream;
      },
    };
  };
}
