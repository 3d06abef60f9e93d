// Payload checking shared by the built-in agents. Task payloads arrive as untrusted JSON from any
// peer, so every agent reads its fields through these helpers, which throw
// MeshError('INVALID_TASK') (or 'INVALID_ARGUMENT' for the exported compute functions) with a
// message naming the agent, the field and what is wrong.
import { MeshError } from '@agentmesh/scheduler';

/** Longest numeric series an agent accepts (keeps a task's CPU time and result size bounded). */
export const MAX_SERIES_LENGTH = 20_000;

/** A short human description of a bad value, for error messages. */
export function describeValue(x: unknown): string {
  if (x === undefined) return 'missing';
  if (x === null) return 'null';
  if (typeof x === 'number') return Number.isNaN(x) ? 'NaN' : String(x);
  if (typeof x === 'string') return x.length > 40 ? `a string of ${x.length} characters` : JSON.stringify(x);
  if (Array.isArray(x)) return `an array of ${x.length} items`;
  return typeof x === 'object' ? 'an object' : typeof x;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Strictly greater than 0. */
  positive?: boolean;
}

function ruleText(r: NumberRule): string {
  const kind = r.positive ? (r.integer ? 'a positive integer' : 'a positive finite number') : r.integer ? 'an integer' : 'a finite number';
  if (r.min !== undefined && r.max !== undefined) return `${kind} in ${r.min}..${r.max}`;
  if (r.min !== undefined) return `${kind} >= ${r.min}`;
  if (r.max !== undefined) return `${kind} <= ${r.max}`;
  return kind;
}

function numberOk(x: unknown, r: NumberRule): x is number {
  return (
    typeof x === 'number' &&
    Number.isFinite(x) &&
    (!r.integer || Number.isInteger(x)) &&
    (!r.positive || x > 0) &&
    (r.min === undefined || x >= r.min) &&
    (r.max === undefined || x <= r.max)
  );
}

/** Reads the fields of one agent's payload; every failure names the agent and the field. */
export class PayloadReader {
  readonly fields: Record<string, unknown>;

  constructor(
    readonly agent: string,
    payload: unknown,
    private readonly code: 'INVALID_TASK' | 'INVALID_ARGUMENT' = 'INVALID_TASK',
    private readonly prefix = 'payload',
  ) {
    if (!isRecord(payload)) throw new MeshError(code, `${agent}: ${prefix || 'argument'} must be an object (got ${describeValue(payload)})`);
    this.fields = payload;
  }

  fail(message: string): never {
    throw new MeshError(this.code, `${this.agent}: ${message}`);
  }

  private name(field: string): string {
    return this.prefix ? `${this.prefix}.${field}` : field;
  }

  /** A required string of 1..maxLength characters. */
  string(field: string, maxLength = 200): string {
    const x = this.fields[field];
    if (typeof x !== 'string' || x.length === 0 || x.length > maxLength) {
      this.fail(`${this.name(field)} must be a string of 1..${maxLength} characters (got ${describeValue(x)})`);
    }
    return x;
  }

  /** An optional string (absent or undefined gives undefined). */
  optionalString(field: string, maxLength = 200): string | undefined {
    return this.fields[field] === undefined ? undefined : this.string(field, maxLength);
  }

  number(field: string, rule: NumberRule = {}): number {
    const x = this.fields[field];
    if (!numberOk(x, rule)) this.fail(`${this.name(field)} must be ${ruleText(rule)} (got ${describeValue(x)})`);
    return x;
  }

  optionalNumber(field: string, rule: NumberRule = {}): number | undefined {
    return this.fields[field] === undefined ? undefined : this.number(field, rule);
  }

  boolean(field: string): boolean {
    const x = this.fields[field];
    if (typeof x !== 'boolean') this.fail(`${this.name(field)} must be true or false (got ${describeValue(x)})`);
    return x;
  }

  oneOf<T extends string | number>(field: string, values: readonly T[]): T {
    const x = this.fields[field];
    if (!values.includes(x as T)) {
      this.fail(`${this.name(field)} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')} (got ${describeValue(x)})`);
    }
    return x as T;
  }

  /** An array of finite numbers, each >= `min` if given, with minLength..maxLength entries. */
  numberArray(field: string, opts: { minLength: number; maxLength?: number; min?: number }): number[] {
    const x = this.fields[field];
    const maxLength = opts.maxLength ?? MAX_SERIES_LENGTH;
    const what =
      `${this.name(field)} must be an array of at least ${opts.minLength}` +
      `${opts.min === 0 ? ' non-negative' : ''} numbers` +
      (opts.min !== undefined && opts.min !== 0 ? ` >= ${opts.min}` : '');
    if (!Array.isArray(x)) this.fail(`${what} (got ${describeValue(x)})`);
    if (x.length < opts.minLength) this.fail(`${what} (got ${x.length})`);
    if (x.length > maxLength) this.fail(`${this.name(field)} has ${x.length} entries; at most ${maxLength} are accepted`);
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      if (!numberOk(v, { min: opts.min })) this.fail(`${what} (${field}[${i}] is ${describeValue(v)})`);
    }
    return x as number[];
  }
}

/** Rounds to `digits` decimals, mapping -0 to 0. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r;
}
