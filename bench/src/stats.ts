// Why: one place for the percentile and rounding rules every phase reports with.
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function summary(xs: number[]): { n: number; p50Ms: number; p99Ms: number; meanMs: number; maxMs: number } {
  const mean = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  return { n: xs.length, p50Ms: round(percentile(xs, 50)), p99Ms: round(percentile(xs, 99)), meanMs: round(mean), maxMs: round(xs.length ? Math.max(...xs) : NaN) };
}

export function round(x: number, d = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
