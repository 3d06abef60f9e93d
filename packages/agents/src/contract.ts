// The contract agents are written against: a plain async function registered under a task type,
// given the payload, an abort signal, progress reporting and the shared data. Handlers never see
// Yjs. @agentmesh/peer runs agents through it and re-exports it; this package never imports the peer.

export interface AgentData {
  /** Writes a shared data entry (namespace defaults to the task type). */
  put(key: string, value: unknown, namespace?: string): void;
  /** Reads a shared data entry's value from this peer's replica. */
  get(key: string, namespace?: string): unknown;
}

export interface AgentContext {
  taskId: string;
  /** Attempt number (the task's round), 1-based. */
  attempt: number;
  peer: { id: string; name: string };
  /** Aborted on timeout, cancel, or when another peer's claim of the same round wins. */
  signal: AbortSignal;
  /** Reports progress, 0..100, throttled before it reaches the document. */
  progress(pct: number, message?: string): void;
  data: AgentData;
  /** Results of the task's dependencies, by task id. */
  inputs: Record<string, unknown>;
  /** The peer's clock (virtual in the simulator). */
  now(): number;
  /** Waits `ms` on the peer's clock; rejects when the signal aborts. */
  sleep(ms: number): Promise<void>;
}

export type AgentHandler = (payload: unknown, ctx: AgentContext) => unknown | Promise<unknown>;

export interface AgentDefinition {
  run: AgentHandler;
  /** Extra capability tags this agent brings (the type itself is always one). */
  capabilities?: string[];
  description?: string;
}

export type AgentRegistry = Record<string, AgentHandler | AgentDefinition>;

export function agentDefinition(a: AgentHandler | AgentDefinition): AgentDefinition {
  return typeof a === 'function' ? { run: a } : a;
}
