// The one-line message of an error that ended a command (a locked data dir says what to check).

import { isMeshError } from '@agentmesh/scheduler';

export function describeStartError(e: unknown): string {
  if (isMeshError(e, 'DATA_DIR_LOCKED')) return `${e.message} (is another peer running on this --data-dir?)`;
  return (e as Error).message ?? String(e);
}
