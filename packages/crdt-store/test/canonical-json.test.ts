// Canonical JSON is what every leaf hash (and so every signature) is made over: the fast version
// must write exactly what the plain definition writes (keys sorted by UTF-16 code units, no
// whitespace, undefined members left out, the omitted top-level key left out), for any JSON value,
// including keys and strings that need escapes and numbers JSON cannot hold.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson } from '../src/trust/encoding.js';

/** The definition, written plainly (the implementation before it was made faster). */
function reference(v: unknown, omit?: string): string {
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map((x) => reference(x)).join(',') + ']';
  const keys = Object.keys(v).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    if (k === omit) continue;
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + reference(x);
    first = false;
  }
  return out + '}';
}

const key = fc.oneof(fc.string(), fc.constantFrom('sig', 'a', 'B', '10', '9', 'é', 'a"b', 'x\\y', '\u0000', '_$', 'a.b:c-d'));
const leaf = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.constantFrom(-0, 1e21, 1e-7, NaN, Infinity, -Infinity));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 6 })),
})).v;

describe('canonicalJson', () => {
  it('writes exactly what the plain definition writes, for any value and omitted key', () => {
    fc.assert(
      fc.property(value, fc.option(key, { nil: undefined }), (v, omit) => {
        expect(canonicalJson(v, omit)).toBe(reference(v, omit));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts keys, drops undefined members and the omitted key, and escapes what needs it', () => {
    expect(canonicalJson({ b: 1, a: 'x', sig: 'S', u: undefined, '10': true, '9': [undefined, -0] }, 'sig')).toBe('{"10":true,"9":[null,0],"a":"x","b":1}');
    expect(canonicalJson({ 'a"b': 'line\nbreak', n: NaN })).toBe('{"a\\"b":"line\\nbreak","n":null}');
  });
});
