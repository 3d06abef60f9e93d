// Reading a bench's command-line flags one at a time: the flag, its value, an integer in a range.
// Bad input throws an Error naming the flag (the bench prints it and exits 2). Shared by
// bench:bounded, bench:sustained and bench:idle, which used to carry a copy each; readToolFlags
// reads the flags the tools with a JSON line share.

export class FlagReader {
  private i = -1;
  private current = '';

  constructor(private readonly argv: readonly string[]) {}

  /** The next flag, or undefined when every argument was read. */
  next(): string | undefined {
    const a = this.argv[++this.i];
    if (a !== undefined) this.current = a;
    return a;
  }

  /** The value after the current flag. */
  value(): string {
    const v = this.argv[++this.i];
    if (v === undefined) throw new Error(`${this.current} needs a value`);
    return v;
  }

  /** `v` (default: the value after the current flag) as an integer in min..max. */
  int(min: number, max: number, v: string = this.value()): number {
    const n = Number(v);
    if (v.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${this.current} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return n;
  }
}

/** The flags every bench tool with a JSON line has (bench:sustained, bench:idle). */
export interface ToolFlags {
  json: boolean;
  peerNodeArgs: string[];
}

/**
 * Reads every flag into `o`: `--` is skipped, `-h`/`--help` returns 'help', `--json` and
 * `--peer-node-args "A B"` set the shared fields, and `own` reads the tool's other flags (false:
 * not one of them, an error naming it).
 */
export function readToolFlags<O extends ToolFlags>(argv: readonly string[], o: O, own: (flag: string, f: FlagReader) => boolean): O | 'help' {
  const f = new FlagReader(argv);
  for (let a = f.next(); a !== undefined; a = f.next()) {
    if (a === '--') continue;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--json') o.json = true;
    else if (a === '--peer-node-args') o.peerNodeArgs = f.value().split(' ').filter(Boolean);
    else if (!own(a, f)) throw new Error(`unknown flag ${JSON.stringify(a)} (try --help)`);
  }
  return o;
}
