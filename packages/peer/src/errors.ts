// One text for anything thrown, so every place that reports an error (a task run's outcome, a log
// field) turns it into a string the same way. Browser-safe: no Node imports.

/**
 * What a task run reports as its error: an Error's message (its name when the message is empty),
 * a string as it is, anything else as JSON (String() when it cannot be serialised).
 */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  try {
    // JSON.stringify(undefined) is undefined: kept as it always was (see errors.test.ts).
    return typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/**
 * For logs, where the error's class says as much as its message: `Name: message`, and every inner
 * error of an AggregateError (a dial to several addresses), joined with '; '.
 */
export function errorDetail(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(errorDetail).join('; ') || err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
