// The three utility agents every peer can run: `echo` (returns its payload), `sleep` (waits on
// the peer's clock, abortable) and `fail` (fails its first N attempts), used to exercise
// scheduling, cancellation and retries without real work.
import type { AgentContext, AgentDefinition } from './contract.js';
import { PayloadReader } from './validate.js';

/** Longest `sleep` accepted: ten minutes. */
export const MAX_SLEEP_MS = 600_000;

export const echoAgent: AgentDefinition = {
  description: 'Returns its payload unchanged.',
  run: (payload) => payload,
};

export const sleepAgent: AgentDefinition = {
  description: 'Waits payload.ms milliseconds on the peer clock (abortable); returns { slept }.',
  run: async (payload: unknown, ctx: AgentContext) => {
    const ms = new PayloadReader('sleep', payload).number('ms', { min: 0, max: MAX_SLEEP_MS });
    await ctx.sleep(ms);
    ctx.progress(100, `slept ${ms} ms`);
    return { slept: ms };
  },
};

/** Reads fail's `times` (default 1); a missing or null payload means the default. */
export function failTimes(payload: unknown): number {
  if (payload === undefined || payload === null) return 1;
  return new PayloadReader('fail', payload).optionalNumber('times', { min: 0, max: 1000, integer: true }) ?? 1;
}

export const failAgent: AgentDefinition = {
  description: 'Throws on its first payload.times attempts (default 1), then returns { attempts }.',
  run: (payload: unknown, ctx: AgentContext) => {
    const times = failTimes(payload);
    if (ctx.attempt <= times) {
      throw new Error(`fail: deliberate failure on attempt ${ctx.attempt} (this task fails its first ${times})`);
    }
    return { attempts: ctx.attempt };
  },
};
