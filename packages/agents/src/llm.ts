// The optional `llm` agent: forwards a prompt to an OpenAI-compatible chat completions endpoint
// configured on this peer (a local model server or a hosted API), so a mesh can route text tasks
// to the peers that have a model. Peers without a configured endpoint do not offer the agent.
import { MeshError } from '@agentmesh/scheduler';
import type { AgentContext, AgentDefinition } from './contract.js';
import { describeValue, PayloadReader } from './validate.js';

export interface LlmConfig {
  /** Base URL of the API, e.g. http://127.0.0.1:11434/v1 (the agent POSTs to {url}/chat/completions). */
  url: string;
  model: string;
  /** Sent as "Authorization: Bearer <apiKey>" when given; never echoed in errors or results. */
  apiKey?: string;
}

export interface LlmUsage {
  promptTokens: number | null;
  completionTokens: number | null;
  totalTokens: number | null;
}

export interface LlmResult {
  text: string;
  /** The model the server reports having used (the configured one if it reports none). */
  model: string;
  /** Token counts from the response's `usage`, or null if the server sent none. */
  usage: LlmUsage | null;
}

export interface LlmInput {
  prompt: string;
  system?: string;
  maxTokens?: number;
}

const MAX_TEXT = 1_000_000;
const MAX_TOKENS = 1_000_000;

/** Checks an llm configuration; throws MeshError('INVALID_ARGUMENT'). */
export function checkLlmConfig(config: unknown): LlmConfig {
  const r = new PayloadReader('llm', config, 'INVALID_ARGUMENT', 'config');
  const url = r.string('url', 2048);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return r.fail(`config.url must be an absolute http(s) URL (got ${describeValue(url)})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') r.fail(`config.url must use http or https (got ${parsed.protocol})`);
  const model = r.string('model', 512);
  const apiKey = r.optionalString('apiKey', 8192);
  return apiKey === undefined ? { url, model } : { url, model, apiKey };
}

/** The chat completions endpoint for a base URL. */
export function chatCompletionsUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/chat/completions`;
}

/** Checks an llm payload; throws MeshError('INVALID_TASK') naming the bad field. */
export function parseLlm(payload: unknown): LlmInput {
  const r = new PayloadReader('llm', payload);
  const prompt = r.string('prompt', MAX_TEXT);
  const system = r.optionalString('system', MAX_TEXT);
  const maxTokens = r.optionalNumber('maxTokens', { min: 1, max: MAX_TOKENS, integer: true });
  return { prompt, ...(system === undefined ? {} : { system }), ...(maxTokens === undefined ? {} : { maxTokens }) };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const count = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** The message text of a chat completion (string content, or the text parts of array content). */
function completionText(body: unknown): string | undefined {
  if (!isRecord(body) || !Array.isArray(body.choices)) return undefined;
  const first: unknown = body.choices[0];
  if (!isRecord(first) || !isRecord(first.message)) return undefined;
  const content = first.message.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const parts = content.filter((p): p is { text: string } => isRecord(p) && typeof p.text === 'string');
    if (parts.length > 0) return parts.map((p) => p.text).join('');
  }
  return undefined;
}

/** The server's error message from an OpenAI-style error body, else the body text itself. */
function errorDetail(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && isRecord(body.error) && typeof body.error.message === 'string') return body.error.message;
    if (isRecord(body) && typeof body.error === 'string') return body.error;
  } catch {
    // not JSON: use the text as it is
  }
  return text.trim().slice(0, 500) || '(empty body)';
}

/** One chat completion request, aborted with `signal`. */
export async function chatCompletion(config: LlmConfig, input: LlmInput, signal?: AbortSignal): Promise<LlmResult> {
  const endpoint = chatCompletionsUrl(config.url);
  const messages = [...(input.system === undefined ? [] : [{ role: 'system', content: input.system }]), { role: 'user', content: input.prompt }];
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  const body = JSON.stringify({ model: config.model, messages, ...(input.maxTokens === undefined ? {} : { max_tokens: input.maxTokens }) });
  let res: Response;
  let text: string;
  try {
    res = await fetch(endpoint, { method: 'POST', headers, body, ...(signal ? { signal } : {}) });
    text = await res.text();
  } catch (e) {
    if (signal?.aborted) throw signal.reason ?? new MeshError('ABORTED', 'llm: request aborted');
    const cause = (e as Error & { cause?: { message?: string } }).cause?.message;
    throw new Error(`llm: request to ${endpoint} failed: ${(e as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  if (!res.ok) {
    throw new Error(`llm: ${endpoint} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}: ${errorDetail(text)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`llm: ${endpoint} answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  const content = completionText(parsed);
  if (content === undefined) throw new Error(`llm: ${endpoint} answered without choices[0].message.content`);
  const rec = parsed as Record<string, unknown>;
  const u = rec.usage;
  const usage = isRecord(u) ? { promptTokens: count(u.prompt_tokens), completionTokens: count(u.completion_tokens), totalTokens: count(u.total_tokens) } : null;
  return { text: content, model: typeof rec.model === 'string' && rec.model ? rec.model : config.model, usage };
}

/** The llm agent for one configured endpoint (the configuration is checked here, once). */
export function llmAgent(config: LlmConfig): AgentDefinition {
  const cfg = checkLlmConfig(config);
  return {
    description: `Chat completion with ${cfg.model} at an OpenAI-compatible endpoint.`,
    run: async (payload: unknown, ctx: AgentContext): Promise<LlmResult> => {
      const input = parseLlm(payload);
      ctx.progress(10, `asking ${cfg.model}`);
      const result = await chatCompletion(cfg, input, ctx.signal);
      ctx.progress(100, 'answer received');
      return result;
    },
  };
}
