// The built-in agents a peer can offer out of the box, as one registry, plus their pure compute
// functions (for tests and for the dashboard, which recomputes and explains results).
import type { AgentRegistry } from '../agents.js';
import { echoAgent, failAgent, sleepAgent } from './basic.js';
import { factoryAnomalyAgent } from './anomaly.js';
import { type LlmConfig, llmAgent } from './llm.js';
import { clinicTriageAgent } from './news2.js';
import { trafficForecastAgent } from './traffic.js';

export * from './basic.js';
export * from './traffic.js';
export * from './anomaly.js';
export * from './news2.js';
export * from './llm.js';
export { MAX_SERIES_LENGTH } from './validate.js';

/** Task types of the built-in agents every peer registers (`llm` only comes with a configuration). */
export const BUILTIN_AGENT_NAMES = ['echo', 'sleep', 'fail', 'traffic.forecast', 'factory.anomaly', 'clinic.triage'] as const;

export type BuiltinAgentName = (typeof BUILTIN_AGENT_NAMES)[number];

export interface BuiltinAgentOptions {
  /** An OpenAI-compatible endpoint; when given, the `llm` agent is registered too. */
  llm?: LlmConfig;
}

/** A fresh registry of the built-in agents (throws MeshError('INVALID_ARGUMENT') on a bad llm config). */
export function builtinAgents(opts: BuiltinAgentOptions = {}): AgentRegistry {
  const registry: AgentRegistry = {
    echo: echoAgent,
    sleep: sleepAgent,
    fail: failAgent,
    'traffic.forecast': trafficForecastAgent,
    'factory.anomaly': factoryAnomalyAgent,
    'clinic.triage': clinicTriageAgent,
  };
  if (opts.llm) registry.llm = llmAgent(opts.llm);
  return registry;
}
