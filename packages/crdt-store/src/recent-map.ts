// A Map that keeps only its most recently used entries (a small LRU cache). The file archive reads
// many tasks of the same few unit rows and batch sheets in a row (a generation change restoring
// thousands of tasks, a status counting them): without it each task read its unit row again and
// decoded its whole batch of up to 500 specs again, and one such pass stalled a starved peer's loop
// for seconds (docs/performance.md, "2026-12-06").

export class RecentMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  /** The value of `key`, which becomes the most recently used. */
  override get(key: K): V | undefined {
    if (!super.has(key)) return undefined;
    const v = super.get(key) as V;
    super.delete(key);
    super.set(key, v);
    return v;
  }

  /** Sets `key` as the most recently used; past `max` entries the least recently used goes. */
  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.max) super.delete(this.keys().next().value as K);
    return this;
  }
}
