// The one typed error of agentmesh. Every package throws MeshError with a stable `code`
// so callers (CLI, peers, tests) branch on codes, never on message text.

export type MeshErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_TASK'
  | 'INVALID_UPDATE'
  | 'UPDATE_TOO_LARGE'
  | 'CORRUPT_LOG'
  | 'CORRUPT_SNAPSHOT'
  | 'DATA_DIR_LOCKED'
  | 'STORAGE_CLOSED'
  /** Archive writes failed (and failed again when retried): what they held stays in the update log. */
  | 'ARCHIVE_FAILED'
  | 'NOT_FOUND'
  | 'UNKNOWN_AGENT'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CLOSED'
  | 'USAGE'
  /** An agent's failure that retrying cannot fix (bad input): the task is dead at once. */
  | 'PERMANENT';

export class MeshError extends Error {
  readonly code: MeshErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: MeshErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'MeshError';
    this.code = code;
    this.details = details;
  }
}

/** An error an agent throws when retrying cannot help (bad input): the task is dead at once. */
export function permanentError(message: string, details?: Record<string, unknown>): MeshError {
  return new MeshError('PERMANENT', message, details);
}

/**
 * Whether a run's failure is permanent: an agent threw a PERMANENT error, or a validation error of
 * its input (INVALID_ARGUMENT or INVALID_TASK, what payload checks throw): the same input fails the
 * same way on every peer and in every round.
 */
export function isPermanentFailure(e: unknown): boolean {
  return isMeshError(e, 'PERMANENT') || isMeshError(e, 'INVALID_ARGUMENT') || isMeshError(e, 'INVALID_TASK');
}

export function isMeshError(e: unknown, code?: MeshErrorCode): e is MeshError {
  return e instanceof MeshError && (code === undefined || e.code === code);
}
