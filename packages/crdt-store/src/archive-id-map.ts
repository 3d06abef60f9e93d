// A map from task ids to values that holds batch task ids compactly. The file archive keeps one
// entry per task whose record waits in a unit row (archive-unit-rows.ts); a busy peer has tens of
// thousands, and as a Map of id strings to objects 90,000 of them were about 20 MB of a
// bench:bounded peer's RSS. Batch task ids are `<batch key>.<index>` (batchTaskId), so an id that
// ends in `.<n>` is held as slot n of one array per prefix (the prefix string once, 8 bytes a task);
// any other id by its string. Ids that merely look like batch ids map the same way, so every id
// has one place.

/** Largest index held in a prefix's array (5 digits); ids past it are held by their string. */
const MAX_DIGITS = 5;

/** `[prefix, n]` when `id` is `<prefix>.<n>` (n written without leading zeros, at most MAX_DIGITS digits). */
function split(id: string): [string, number] | undefined {
  const dot = id.lastIndexOf('.');
  const digits = id.length - dot - 1;
  if (dot <= 0 || digits < 1 || digits > MAX_DIGITS || (digits > 1 && id.charCodeAt(dot + 1) === 48)) return undefined;
  let n = 0;
  for (let i = dot + 1; i < id.length; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return [id.slice(0, dot), n];
}

/** A copy of `s` of its own (a slice would keep the whole id it was cut from alive). */
function own(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

export class CompactIdMap<V> {
  private readonly groups = new Map<string, { slots: (V | undefined)[]; n: number }>();
  private readonly others = new Map<string, V>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: string): V | undefined {
    const k = split(id);
    return k ? this.groups.get(k[0])?.slots[k[1]] : this.others.get(id);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets `id` to `v` (undefined is not a value: use delete). */
  set(id: string, v: V): void {
    const k = split(id);
    if (!k) {
      if (!this.others.has(id)) this.count++;
      this.others.set(id, v);
      return;
    }
    let g = this.groups.get(k[0]);
    if (!g) this.groups.set(own(k[0]), (g = { slots: [], n: 0 }));
    if (g.slots[k[1]] === undefined) {
      g.n++;
      this.count++;
    }
    g.slots[k[1]] = v;
  }

  delete(id: string): boolean {
    const k = split(id);
    if (!k) {
      const had = this.others.delete(id);
      if (had) this.count--;
      return had;
    }
    const g = this.groups.get(k[0]);
    if (!g || g.slots[k[1]] === undefined) return false;
    g.slots[k[1]] = undefined;
    this.count--;
    if (--g.n === 0) this.groups.delete(k[0]);
    return true;
  }

  /** Every id and its value (ids of a prefix in index order, then the others in insertion order). */
  *entries(): IterableIterator<[string, V]> {
    for (const [prefix, g] of this.groups) {
      for (let i = 0; i < g.slots.length; i++) {
        const v = g.slots[i];
        if (v !== undefined) yield [`${prefix}.${i}`, v];
      }
    }
    yield* this.others;
  }
}
