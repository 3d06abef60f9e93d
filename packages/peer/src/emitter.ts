// A tiny typed event emitter (browser-safe, no node:events), so peer events are checked by the compiler.

export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(e: never) => void>>();

  on<K extends keyof Events>(event: K, fn: (e: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(fn as (e: never) => void);
    return () => this.off(event, fn);
  }

  off<K extends keyof Events>(event: K, fn: (e: Events[K]) => void): void {
    this.handlers.get(event)?.delete(fn as (e: never) => void);
  }

  /** True when at least one handler listens to `event`. */
  listens(event: keyof Events): boolean {
    return (this.handlers.get(event)?.size ?? 0) > 0;
  }

  protected emit<K extends keyof Events>(event: K, e: Events[K]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const fn of [...set]) (fn as (e: Events[K]) => void)(e);
  }

  protected removeAllListeners(): void {
    this.handlers.clear();
  }
}
