// Time, injected. The same Peer runs on the system clock and on the simulator's virtual clock,
// so nothing in the peer core calls Date.now or setTimeout directly.

export type TimerId = unknown;

export interface Clock {
  /** Milliseconds; wall time for real peers, virtual time in the simulator. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return t;
  },
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
