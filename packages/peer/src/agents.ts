// The agent contract as the peer runs it. Agents are written against @agentmesh/agents (which
// never depends on the peer); the peer's modules and its users import the contract from here.
export {
  agentDefinition,
  type AgentContext,
  type AgentData,
  type AgentDefinition,
  type AgentHandler,
  type AgentRegistry,
} from '@agentmesh/agents';
