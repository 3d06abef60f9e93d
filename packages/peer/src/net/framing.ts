// Length-prefixed framing for the direct sync stream: a libp2p stream is a byte pipe whose chunks
// may split or join messages, so each message goes out as <unsigned varint length><bytes> and the
// receiver reassembles whole frames. A frame whose declared length is over the limit is refused as
// soon as its header is read, before anything of that size is allocated.

import { MeshError } from '@agentmesh/scheduler';

/** Longest varint accepted in a header (7 bits each: 2^56, far above any sane limit). */
const MAX_VARINT_BYTES = 8;

/** The varint length header of a frame carrying `length` bytes. */
export function encodeFrameHeader(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new MeshError('INVALID_ARGUMENT', `bad frame length ${length}`);
  const out: number[] = [];
  let n = length;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** Header and body in one new buffer (what the direct streams queue and write). */
export function encodeFrame(data: Uint8Array): Uint8Array {
  const header = encodeFrameHeader(data.byteLength);
  const out = new Uint8Array(header.byteLength + data.byteLength);
  out.set(header, 0);
  out.set(data, header.byteLength);
  return out;
}

/** The header length of a frame whose total length (header and body) is `frameLength`. */
export function frameHeaderLength(frameLength: number): number {
  let h = 1;
  while (frameLength - h >= 0x80 ** h) h++;
  return h;
}

/** A chunk as a libp2p stream yields it: one buffer, or a list of buffers (Uint8ArrayList). */
export type Chunk = Uint8Array | Iterable<Uint8Array>;

/**
 * Incremental frame decoder. Feed it chunks in order; it calls `onFrame` once per whole frame.
 * Throws MeshError('INVALID_ARGUMENT') when a header is malformed or declares more than
 * `maxFrameBytes`; the stream must then be dropped (the decoder's state is no longer meaningful).
 */
export class FrameDecoder {
  private headerValue = 0;
  private headerShift = 1;
  private headerBytes = 0;
  private body: Uint8Array | undefined;
  private bodyFilled = 0;
  private failed = false;

  constructor(readonly maxFrameBytes: number) {}

  /** Bytes of the frame currently being assembled that are already buffered. */
  get pendingBytes(): number {
    return this.body ? this.bodyFilled : 0;
  }

  /** The declared length of the frame being assembled (0 when none is under way). */
  get partialLength(): number {
    return this.body ? this.body.byteLength : 0;
  }

  push(chunk: Chunk, onFrame: (frame: Uint8Array) => void): void {
    if (this.failed) throw new MeshError('INVALID_ARGUMENT', 'frame decoder already failed');
    if (chunk instanceof Uint8Array) this.pushBuf(chunk, onFrame);
    else for (const buf of chunk) this.pushBuf(buf, onFrame);
  }

  private pushBuf(buf: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let i = 0;
    while (i < buf.byteLength) {
      if (this.body === undefined) {
        // Reading the varint header, byte by byte.
        const b = buf[i++]!;
        this.headerValue += (b & 0x7f) * this.headerShift;
        this.headerShift *= 0x80;
        this.headerBytes++;
        if (b & 0x80) {
          if (this.headerBytes >= MAX_VARINT_BYTES) this.fail('frame header is not a valid length');
          continue;
        }
        const length = this.headerValue;
        this.headerValue = 0;
        this.headerShift = 1;
        this.headerBytes = 0;
        if (length > this.maxFrameBytes) {
          this.fail(`frame of ${length} bytes is over the ${this.maxFrameBytes}-byte limit`, { length, limit: this.maxFrameBytes });
        }
        if (length === 0) {
          onFrame(new Uint8Array(0));
          continue;
        }
        // Whole frame inside this buffer: hand out a copy of just that slice.
        if (buf.byteLength - i >= length) {
          onFrame(buf.slice(i, i + length));
          i += length;
          continue;
        }
        this.body = new Uint8Array(length);
        this.bodyFilled = 0;
      }
      const take = Math.min(this.body.byteLength - this.bodyFilled, buf.byteLength - i);
      this.body.set(buf.subarray(i, i + take), this.bodyFilled);
      this.bodyFilled += take;
      i += take;
      if (this.bodyFilled === this.body.byteLength) {
        const frame = this.body;
        this.body = undefined;
        this.bodyFilled = 0;
        onFrame(frame);
      }
    }
  }

  private fail(message: string, details?: Record<string, unknown>): never {
    this.failed = true;
    this.body = undefined;
    throw new MeshError('INVALID_ARGUMENT', message, details);
  }
}
