// One bounded poll for tests (and anything else that waits for a condition): every wait ends,
// either with the condition met or with an error that says what was awaited and for how long.
// Two shapes, told apart by the first argument:
// - until(cond, ms?, what?): a synchronous condition over in-process state. It resolves with the
//   ms waited; an exception from `cond` fails at once (it is a bug in the test, not a slow peer).
// - until(what, probe, ms?): a probe that may be async and may fail while something starts (an
//   HTTP call to a peer process). It resolves with the probe's first truthy value; exceptions are
//   retried, and the last one is named in the timeout error.
// makeUntil() gives a file its own defaults (timeout, poll interval) without another copy.

export interface UntilDefaults {
  /** How long a wait lasts when the call names no timeout. */
  timeoutMs: number;
  /** Time between two polls. */
  everyMs: number;
}

export type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

export interface Until {
  (cond: () => boolean, ms?: number, what?: string): Promise<number>;
  <T>(what: string, probe: Probe<T>, ms?: number): Promise<T>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function makeUntil(defaults: UntilDefaults): Until {
  async function untilCond(cond: () => boolean, ms: number, what: string): Promise<number> {
    const start = Date.now();
    while (!cond()) {
      if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(defaults.everyMs);
    }
    return Date.now() - start;
  }

  async function untilProbe<T>(what: string, probe: Probe<T>, ms: number): Promise<T> {
    const end = Date.now() + ms;
    let last: unknown;
    let failed = false;
    for (;;) {
      try {
        const v = await probe();
        if (v) return v;
      } catch (e) {
        last = e;
        failed = true;
      }
      if (Date.now() > end) {
        const why = failed ? `: ${last instanceof Error ? last.message : String(last)}` : '';
        throw new Error(`timed out after ${ms} ms waiting for ${what}${why}`);
      }
      await sleep(defaults.everyMs);
    }
  }

  return ((a: (() => boolean) | string, b?: number | Probe<unknown>, c?: number | string) => {
    if (typeof a === 'string') return untilProbe(a, b as Probe<unknown>, (c as number | undefined) ?? defaults.timeoutMs);
    return untilCond(a, (b as number | undefined) ?? defaults.timeoutMs, (c as string | undefined) ?? 'a condition');
  }) as Until;
}

/** Polls every 10 ms for up to 10 s unless told otherwise. */
export const until: Until = makeUntil({ timeoutMs: 10_000, everyMs: 10 });
