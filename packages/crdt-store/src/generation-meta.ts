// The document's `meta` map: the schema version marker, the generation markers ('gen:<name>',
// the greatest one names the document's generation) and the lineage (the generations this one
// descends from). Functions over the document, writing through the board's local transaction.

import type * as Y from 'yjs';
import { GENESIS, compareGenerations, encodeGeneration, parseGeneration, type Generation } from './generation.js';
import { ROOT, SCHEMA_VERSION } from './schema.js';
import type { BoardContext } from './board-types.js';

/** Generations of lineage a document remembers. */
export const LINEAGE_MAX = 32;

type Transact = BoardContext['transact'];

/** Ensures the schema version marker exists. */
export function initMeta(doc: Y.Doc, transact: Transact): void {
  const meta = doc.getMap(ROOT.meta);
  if (meta.get('schema') !== SCHEMA_VERSION) transact(() => meta.set('schema', SCHEMA_VERSION));
}

/** The generation `doc` belongs to (the greatest marker in meta; GENESIS if none). */
export function generationOf(doc: Y.Doc): Generation {
  let best = GENESIS;
  for (const k of doc.getMap(ROOT.meta).keys()) {
    if (!k.startsWith('gen:')) continue;
    const g = parseGeneration(k.slice(4));
    if (g && compareGenerations(g, best) > 0) best = g;
  }
  return best;
}

/** Marks `doc` as generation `g`. */
export function markGeneration(doc: Y.Doc, transact: Transact, g: Generation): void {
  const meta = doc.getMap(ROOT.meta);
  const key = 'gen:' + encodeGeneration(g);
  if (!meta.has(key)) transact(() => meta.set(key, true));
}

/** Valid generation names of the lineage, oldest first, at most LINEAGE_MAX. */
export function lineageOf(doc: Y.Doc): string[] {
  const raw = doc.getMap(ROOT.meta).get('lineage');
  if (!Array.isArray(raw)) return [];
  return raw.filter((x): x is string => parseGeneration(x) !== null).slice(-LINEAGE_MAX);
}

export function setLineage(doc: Y.Doc, transact: Transact, names: string[]): void {
  const list = names.filter((x) => parseGeneration(x) !== null).slice(-LINEAGE_MAX);
  transact(() => doc.getMap(ROOT.meta).set('lineage', list));
}
