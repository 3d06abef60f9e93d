// Timers and deadlines of the libp2p transport, all from the injected Clock (nothing in net/
// reads the wall clock itself). Timers are unref'd when the clock hands out Node timers, so an
// idle transport never keeps a process alive, as the setTimeout/AbortSignal.timeout they replace.

import type { Clock, TimerId } from '../clock.js';

/** Lets the process exit while `id` is pending (a no-op for timers without `unref`). */
export function unref(id: TimerId): TimerId {
  (id as { unref?: () => void } | null | undefined)?.unref?.();
  return id;
}

/** `fn` once after `ms`. */
export function later(clock: Clock, ms: number, fn: () => void): TimerId {
  return unref(clock.setTimeout(fn, ms));
}

/** `fn` every `ms` (the next run is scheduled before this one runs); returns the cancel function. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let stopped = false;
  let id: TimerId | undefined;
  const tick = () => {
    if (stopped) return;
    id = later(clock, ms, tick);
    fn();
  };
  id = later(clock, ms, tick);
  return () => {
    stopped = true;
    if (id !== undefined) clock.clearTimeout(id);
    id = undefined;
  };
}

/** A DOMException like the one AbortSignal.timeout() aborts with. */
export function timeoutReason(): DOMException {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
}

export interface Deadline {
  /** Aborts when `parent` does, or after `ms` (with a TimeoutError). */
  readonly signal: AbortSignal;
  /** Cancels the timer; call once the guarded operation is over. */
  clear(): void;
}

/** AbortSignal.any([parent, AbortSignal.timeout(ms)]) with the time taken from `clock`. */
export function deadline(clock: Clock, ms: number, parent: AbortSignal): Deadline {
  const ctl = new AbortController();
  const id = later(clock, ms, () => ctl.abort(timeoutReason()));
  return { signal: AbortSignal.any([parent, ctl.signal]), clear: () => clock.clearTimeout(id) };
}
