// Reading a bench's command-line flags one at a time: the flag, its value, an integer in a range.
// Bad input throws an Error naming the flag (the bench prints it and exits 2). Shared by
// bench:bounded and bench:sustained, which used to carry a copy each.

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
