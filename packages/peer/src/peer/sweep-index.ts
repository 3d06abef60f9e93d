// What time alone can change, indexed so a periodic sweep looks only there instead of re-deriving
// every live task: tasks held by another peer (its claim is running, or round 1 is assigned to it)
// by holder, so they are looked at when their holder stops being seen; running tasks with a
// timeout; and the few tasks whose state depends on other things (dependencies, quorum votes).

export class SweepIndex {
  /** Task -> the other peer holding it. */
  private readonly holderOf = new Map<string, string>();
  /** Holder -> its tasks. */
  private readonly byHolder = new Map<string, Set<string>>();
  /** Tasks another peer runs with a timeout (their lease can lapse while the holder is alive). */
  private readonly timed = new Set<string>();
  /** Tasks with dependencies or quorum claims: looked at on every sweep. */
  private readonly always = new Set<string>();

  /** Records what a task waits on, as last derived (undefined holder: no other peer holds it). */
  note(id: string, holder: string | undefined, timed: boolean, always: boolean): void {
    const prev = this.holderOf.get(id);
    if (prev !== holder) {
      if (prev !== undefined) {
        const set = this.byHolder.get(prev);
        set?.delete(id);
        if (set?.size === 0) this.byHolder.delete(prev);
      }
      if (holder === undefined) this.holderOf.delete(id);
      else {
        this.holderOf.set(id, holder);
        let set = this.byHolder.get(holder);
        if (!set) this.byHolder.set(holder, (set = new Set()));
        set.add(id);
      }
    }
    if (timed) this.timed.add(id);
    else this.timed.delete(id);
    if (always) this.always.add(id);
    else this.always.delete(id);
  }

  forget(id: string): void {
    this.note(id, undefined, false, false);
  }

  /** Adds to `ids` every task a sweep must look at now: `alive` says whether a holder is seen. */
  collect(ids: Set<string>, alive: (peer: string) => boolean): void {
    for (const [peer, tasks] of this.byHolder) if (!alive(peer)) for (const id of tasks) ids.add(id);
    for (const id of this.timed) ids.add(id);
    for (const id of this.always) ids.add(id);
  }

  /** Tasks held by each other peer (for diagnostics). */
  heldBy(peer: string): number {
    return this.byHolder.get(peer)?.size ?? 0;
  }
}
