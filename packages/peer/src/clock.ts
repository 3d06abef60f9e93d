// Time, injected. The same Peer runs on the system clock and on the simulator's virtual clock,
// so nothing in the peer core calls Date.now or setTimeout directly.

export type TimerId = unknown;

export interface Clock {
  /** Milliseconds; wall time for real peers, virtual time in the simulator. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  /**
   * Milliseconds this process's event loop has spent busy (not waiting for I/O) since it started,
   * where the platform can tell (Node's event-loop utilization); absent elsewhere (browsers, the
   * simulator's virtual clock). Waits for a peer's answer count only time this process could have
   * read it (sync/pulls.ts).
   */
  busyMs?(): number;
}

/** `setImmediate` where the platform has it (Node); browsers fall back to a 0 ms timeout. */
const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
const cancelImmediate = (globalThis as { clearImmediate?: (id: unknown) => void }).clearImmediate;

/** A 0 ms timer of the system clock: the next turn of the event loop, not Node's 1 ms minimum. */
class Soon {
  constructor(readonly handle: unknown) {}
}

/** Node's event-loop utilization, where there is one. */
const elu = (globalThis as { performance?: { eventLoopUtilization?: () => { active: number } } }).performance?.eventLoopUtilization;

export const systemClock: Clock = {
  now: () => Date.now(),
  ...(typeof elu === 'function' ? { busyMs: () => elu.call(globalThis.performance).active } : {}),
  setTimeout: (fn, ms) => {
    if (ms <= 0 && immediate) return new Soon(immediate(fn));
    return setTimeout(fn, ms);
  },
  clearTimeout: (id) => {
    if (id instanceof Soon) cancelImmediate?.(id.handle);
    else clearTimeout(id as ReturnType<typeof setTimeout>);
  },
};
