// Turns what a user submits (a type, a payload, options) into a full TaskSpec with an id,
// checking every field so bad input is refused with a clear error before anything is written.

import { hash32, isStrategyName, MeshError, type Rng, type StrategyName, type TaskSpec } from '@agentmesh/scheduler';
import { parseTaskSpec } from '@agentmesh/crdt-store';

export interface TaskInput {
  type: string;
  payload?: unknown;
  priority?: number;
  requires?: string[];
  prefers?: string[];
  dependsOn?: string[];
  maxAttempts?: number;
  timeoutMs?: number;
  /** Wait this long before the task may be bid on. */
  delayMs?: number;
  strategy?: StrategyName;
  /** Idempotency key: the same key gives the same task id on every peer. */
  key?: string;
  /** Explicit id (otherwise generated). */
  id?: string;
  /** Claim only with a quorum (a majority of known peers): never runs on a minority side. */
  exclusive?: boolean;
}

export const DEFAULT_MAX_ATTEMPTS = 3;

/** The fields a task input may have; any other is an error (a misspelt option must not be ignored). */
const INPUT_FIELDS: ReadonlySet<string> = new Set(['type', 'payload', 'priority', 'requires', 'prefers', 'dependsOn', 'maxAttempts', 'timeoutMs', 'delayMs', 'strategy', 'key', 'id', 'exclusive']);
/** Likely meant fields for names a user may reach for. */
const MEANT: Readonly<Record<string, string>> = { notBefore: 'delayMs', delay: 'delayMs', timeout: 'timeoutMs', attempts: 'maxAttempts', retries: 'maxAttempts', data: 'payload', idempotencyKey: 'key' };

/** The task id an idempotency key maps to, the same on every peer. */
export function idForKey(key: string): string {
  const a = hash32(key, 0x9e3779b9).toString(36);
  const b = hash32(key, 0x85ebca6b).toString(36);
  const c = hash32(key, 0xc2b2ae35).toString(36);
  return `k-${a}${b}${c}`;
}

export function newTaskId(now: number, rng: Rng): string {
  let r = '';
  for (let i = 0; i < 10; i++) r += Math.floor(rng.next() * 36).toString(36);
  return `t-${Math.max(0, Math.floor(now)).toString(36)}-${r}`;
}

export function buildTaskSpec(input: TaskInput, ctx: { now: number; by: string; rng: Rng; defaultStrategy: StrategyName }): TaskSpec {
  if (typeof input !== 'object' || input === null) throw new MeshError('INVALID_TASK', 'task input must be an object');
  for (const k of Object.keys(input)) {
    if (INPUT_FIELDS.has(k)) continue;
    const hint = Object.hasOwn(MEANT, k) ? ` (did you mean ${MEANT[k]}?)` : '';
    throw new MeshError('INVALID_TASK', `unknown task field ${JSON.stringify(k)}${hint}`);
  }
  if (input.strategy !== undefined && !isStrategyName(input.strategy)) throw new MeshError('INVALID_TASK', `unknown strategy ${JSON.stringify(input.strategy)}`);
  if (input.delayMs !== undefined && (!Number.isFinite(input.delayMs) || input.delayMs < 0)) throw new MeshError('INVALID_TASK', 'delayMs must be a non-negative number');
  const id = input.id ?? (input.key !== undefined ? idForKey(String(input.key)) : newTaskId(ctx.now, ctx.rng));
  const raw: Record<string, unknown> = {
    id,
    type: input.type,
    payload: input.payload ?? null,
    priority: input.priority ?? 0,
    requires: input.requires ?? [],
    prefers: input.prefers ?? [],
    dependsOn: input.dependsOn ?? [],
    maxAttempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    timeoutMs: input.timeoutMs ?? 0,
    createdAt: ctx.now,
    createdBy: ctx.by,
    notBefore: input.delayMs ? ctx.now + input.delayMs : 0,
    strategy: input.strategy ?? ctx.defaultStrategy,
  };
  if (input.key !== undefined) raw.key = input.key;
  if (input.exclusive !== undefined) raw.exclusive = input.exclusive;
  const parsed = parseTaskSpec(raw, id);
  if (!parsed.ok) throw new MeshError('INVALID_TASK', `invalid task: ${parsed.reason}`);
  return parsed.value;
}
