// One way to turn anything thrown into a readable line (agents may throw strings or objects).

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  try {
    return typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    return String(err);
  }
}
