// A fake AgentContext for the built-in agent tests: abort via an AbortController, progress and
// shared-data writes collected in memory, sleep on real timers honouring the signal, fixed clock.
import { agentDefinition, type AgentContext } from '../src/contract.js';
import { builtinAgents } from '../src/index.js';

export const NOW = 1_750_000_000_000;

export interface FakeContext {
  ctx: AgentContext;
  controller: AbortController;
  progress: Array<{ pct: number; message: string | undefined }>;
  /** Shared data by "namespace/key". */
  data: Map<string, unknown>;
}

export function fakeContext(opts: { type?: string; attempt?: number } = {}): FakeContext {
  const type = opts.type ?? 'test';
  const controller = new AbortController();
  const { signal } = controller;
  const progress: FakeContext['progress'] = [];
  const data = new Map<string, unknown>();
  const ctx: AgentContext = {
    taskId: 'task-1',
    attempt: opts.attempt ?? 1,
    peer: { id: 'peer-1', name: 'Peer 1' },
    signal,
    progress: (pct, message) => progress.push({ pct, message }),
    data: {
      put: (key, value, namespace) => void data.set(`${namespace ?? type}/${key}`, value),
      get: (key, namespace) => data.get(`${namespace ?? type}/${key}`),
    },
    inputs: {},
    now: () => NOW,
    sleep: (ms) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => {
          clearTimeout(t);
          reject(signal.reason);
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
  };
  return { ctx, controller, progress, data };
}

/** Runs a built-in agent by task type with a fresh fake context (namespace = the type). */
export async function runAgent(type: string, payload: unknown, opts: { attempt?: number } = {}) {
  const fake = fakeContext({ type, ...opts });
  const handler = builtinAgents()[type];
  if (!handler) throw new Error(`no built-in agent ${type}`);
  const result = await agentDefinition(handler).run(payload, fake.ctx);
  return { result, ...fake };
}
