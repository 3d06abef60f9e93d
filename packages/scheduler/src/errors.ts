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
  | 'NOT_FOUND'
  | 'UNKNOWN_AGENT'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'CLOSED'
  | 'USAGE';

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

export function isMeshError(e: unknown, code?: MeshErrorCode): e is MeshError {
  return e instanceof MeshError && (code === undefined || e.code === code);
}
