// A small strict flag parser for the `agentmesh` CLI: every command declares its flags, and
// anything unknown, missing or malformed is a UsageError with a message that names the flag
// (the CLI prints it and exits 2). Supports --flag value, --flag=value, repeatable flags and env defaults.

export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagType = 'string' | 'int' | 'number' | 'bool';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  /** Placeholder in the usage text, e.g. DIR. */
  arg?: string;
  /** May be given more than once (values collect into an array). */
  repeat?: boolean;
  default?: string | number | boolean | string[];
  /** Environment variable used when the flag is absent. */
  env?: string;
  required?: boolean;
  min?: number;
  max?: number;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpec[];
  /** Names of positional arguments (required; a name ending in '?' is optional). */
  positionals?: string[];
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined> & { _: string[] };

export function parseFlags(spec: CommandSpec, argv: readonly string[], env: Record<string, string | undefined> = {}): FlagValues {
  const out: FlagValues = { _: [] };
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const list = argv[0] === '--' ? argv.slice(1) : [...argv];
  for (let i = 0; i < list.length; i++) {
    const raw = list[i]!;
    if (raw === '-h' || raw === '--help') {
      out.help = true;
      continue;
    }
    if (!raw.startsWith('--')) {
      out._.push(raw);
      continue;
    }
    const eq = raw.indexOf('=');
    const name = raw.slice(2, eq > 0 ? eq : undefined);
    const f = byName.get(name);
    if (!f) throw new UsageError(`unknown option --${name} for "${spec.name}"`);
    let text: string | undefined;
    if (f.type === 'bool') {
      text = eq > 0 ? raw.slice(eq + 1) : 'true';
      if (text !== 'true' && text !== 'false') throw new UsageError(`--${name} takes no value (or =true/=false)`);
    } else {
      text = eq > 0 ? raw.slice(eq + 1) : list[++i];
      if (text === undefined || (eq < 0 && text.startsWith('--'))) throw new UsageError(`--${name} needs a value${f.arg ? ` (${f.arg})` : ''}`);
    }
    const value = convert(f, text);
    if (f.repeat) {
      const prev = (out[name] as string[] | undefined) ?? [];
      out[name] = [...prev, ...(String(value).split(',').map((s) => s.trim()).filter(Boolean))];
    } else {
      if (out[name] !== undefined) throw new UsageError(`--${name} given twice`);
      out[name] = value;
    }
  }
  if (out.help) return out;
  for (const f of spec.flags) {
    if (out[f.name] !== undefined) continue;
    const fromEnv = f.env ? env[f.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') out[f.name] = f.repeat ? fromEnv.split(',').map((s) => s.trim()).filter(Boolean) : convert(f, fromEnv, `$${f.env}`);
    else if (f.default !== undefined) out[f.name] = f.default;
    else if (f.required) throw new UsageError(`--${f.name} is required for "${spec.name}"`);
  }
  const positionals = spec.positionals ?? [];
  const required = positionals.filter((p) => !p.endsWith('?'));
  if (out._.length < required.length) throw new UsageError(`"${spec.name}" needs ${required.map((p) => p.toUpperCase()).join(' ')}`);
  if (out._.length > positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(out._[positionals.length])}`);
  return out;
}

function convert(f: FlagSpec, text: string, where = `--${f.name}`): string | number | boolean {
  switch (f.type) {
    case 'bool':
      return text === 'true' || text === '1';
    case 'string':
      if (text.length === 0) throw new UsageError(`${where} must not be empty`);
      return text;
    case 'int':
    case 'number': {
      const ok = f.type === 'int' ? /^-?[0-9]+$/.test(text) : /^-?[0-9]+(\.[0-9]+)?$/.test(text);
      const n = Number(text);
      if (!ok || !Number.isFinite(n)) throw new UsageError(`${where} must be ${f.type === 'int' ? 'a whole number' : 'a number'}, got ${JSON.stringify(text)}`);
      if (f.min !== undefined && n < f.min) throw new UsageError(`${where} must be at least ${f.min}, got ${text}`);
      if (f.max !== undefined && n > f.max) throw new UsageError(`${where} must be at most ${f.max}, got ${text}`);
      return n;
    }
  }
}

export function usageText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary, '', 'Options:'];
  const width = Math.max(...spec.flags.map((f) => f.name.length + (f.arg ? f.arg.length + 1 : 0)), 10) + 4;
  for (const f of spec.flags) {
    const left = `  --${f.name}${f.arg ? ' ' + f.arg : ''}`;
    const extra = [f.repeat ? 'repeatable' : '', f.env ? `env ${f.env}` : '', f.default !== undefined && f.default !== false ? `default ${Array.isArray(f.default) ? f.default.join(',') : f.default}` : '', f.required ? 'required' : ''].filter(Boolean).join('; ');
    lines.push(`${left.padEnd(width + 2)} ${f.help}${extra ? ` (${extra})` : ''}`);
  }
  lines.push(`  -h, --help`.padEnd(width + 3) + ' this help');
  return lines.join('\n');
}
