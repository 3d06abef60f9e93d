// base64url is how signatures, Merkle paths and keys travel inside JSON entries and archive
// records: the browser-safe encoder must write exactly what Node's own base64url writes (no
// padding) for any bytes, at every length (including past one String.fromCharCode chunk), and the
// decoder must give the bytes back.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromB64url, toB64url } from '../src/trust/encoding.js';

describe('base64url', () => {
  it('writes what Buffer writes and reads it back, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const text = toB64url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(fromB64url(text)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('handles inputs longer than one character chunk (every tail length)', () => {
    for (const n of [0, 1, 2, 3, 6143, 6144, 6145, 6146, 20_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 255);
      expect(toB64url(bytes), `length ${n}`).toBe(Buffer.from(bytes).toString('base64url'));
    }
  });
});
