// Document generations: the live document is replaced, now and then, by a fresh one holding only
// what is still live, since Yjs keeps a tombstone for every deleted map entry. A generation is
// named by its number, its cut (time and finished tasks kept, which decide what is archived) and
// the peer that started it; peers converge on the greatest name they hear of.

export interface Generation {
  /** 0 for the first document, +1 at each change. */
  n: number;
  /** The cut time (clock of the peer that started it); 0 for the first document. */
  at: number;
  /** Finished tasks kept at most in this generation. */
  keep: number;
  /** Peer that started it ('' for the first document). */
  by: string;
}

export const GENESIS: Generation = { n: 0, at: 0, keep: 0, by: '' };

const GEN_RE = /^(\d{1,9})\.(\d{1,16})\.(\d{1,9})\.([A-Za-z0-9._:-]{0,128})$/;

export function encodeGeneration(g: Generation): string {
  return `${g.n}.${g.at}.${g.keep}.${g.by}`;
}

/** Parses a generation name; null when it is not one. */
export function parseGeneration(s: unknown): Generation | null {
  if (typeof s !== 'string') return null;
  const m = GEN_RE.exec(s);
  if (!m) return null;
  const g = { n: Number(m[1]), at: Number(m[2]), keep: Number(m[3]), by: m[4]! };
  if (!Number.isSafeInteger(g.at)) return null;
  if (g.n === 0 ? g.at !== 0 || g.by !== '' : g.by === '') return null;
  return g;
}

/** Total order of generations: number, then cut time, then cut size, then starter. */
export function compareGenerations(a: Generation, b: Generation): number {
  return a.n - b.n || a.at - b.at || a.keep - b.keep || (a.by < b.by ? -1 : a.by > b.by ? 1 : 0);
}

export function sameGeneration(a: Generation, b: Generation): boolean {
  return compareGenerations(a, b) === 0;
}
