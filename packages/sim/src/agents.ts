// The simulator's agents: deterministic work whose result can be checked afterwards. A task sleeps
// its payload's virtual time, fails its first `failTimes` attempts, maybe writes a data item, and
// returns a value computed from its payload (so a wrong or mixed-up result is caught).

import type { AgentRegistry } from '@agentmesh/peer';

export interface WorkPayload {
  n: number;
  ms: number;
  failTimes: number;
  data: boolean;
}

export function expectedResult(p: WorkPayload): unknown {
  return { n: p.n, sq: p.n * p.n };
}

export const simAgents: AgentRegistry = {
  work: async (payload, ctx) => {
    const p = payload as WorkPayload;
    await ctx.sleep(p.ms);
    if (ctx.attempt <= p.failTimes) throw new Error(`planned failure of attempt ${ctx.attempt}`);
    if (p.data) ctx.data.put(`item-${ctx.taskId}`, { n: p.n, by: ctx.peer.id });
    return expectedResult(p);
  },
};
