// The built-in agents a peer can offer out of the box, as one registry (what `agentmesh peer`
// registers), and the names of the task types it always holds.
import type { AgentRegistry } from './contract.js';
import { echoAgent, failAgent, sleepAgent } from './basic.js';
import { factoryAnomalyAgent } from './anomaly.js';
import { type LlmConfig, llmAgent } from './llm.js';
import { clinicTriageAgent } from './news2.js';
import { trafficForecastAgent } from './traffic.js';

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
