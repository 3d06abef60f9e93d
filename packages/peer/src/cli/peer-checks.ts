// The checks `agentmesh peer` makes on its flags before anything starts (no data dir created, no
// key written, no socket opened): a bad value is a UsageError, so the CLI prints a clear message
// and exits 2. The transport and the websocket endpoint check the same things again when they
// start (for library callers); these checks only move the refusal to before the start. Also the
// values only the CLI reads (--task-events).

import { isMeshError } from '@agentmesh/scheduler';
import { LIMITS } from '@agentmesh/crdt-store';
import { parseAddresses } from '../net/options.js';
import { isValidRoom, needsToken } from '../ws/config.js';
import { UsageError, type FlagValues } from './flags.js';

/** Throws a UsageError for flag values the peer would refuse only once started. */
export function checkPeerFlags(v: FlagValues): void {
  const host = String(v['ws-host']);
  if (needsToken(host) && !v['ws-token']) {
    throw new UsageError(`--ws-host ${host} listens beyond loopback: give --ws-token TOKEN (or $AGENTMESH_WS_TOKEN) that clients must present`);
  }
  if (!isValidRoom(v.room)) {
    throw new UsageError(`--room must be letters, digits and ._~- (segments split by /, no . or .. segment), got ${JSON.stringify(v.room)}`);
  }
  const types = v['task-events'] as string[] | undefined;
  if (types !== undefined && types.length === 0) throw new UsageError('--task-events needs at least one task type, e.g. --task-events echo');
  const long = types?.find((t) => t.length > LIMITS.typeLength);
  if (long !== undefined) throw new UsageError(`--task-events: a task type is at most ${LIMITS.typeLength} characters, got ${long.length}`);
  const listen = (v.listen as string[] | undefined) ?? [];
  if (listen.length === 0) throw new UsageError('--listen needs at least one multiaddr, e.g. /ip4/127.0.0.1/tcp/0');
  let parsed: ReturnType<typeof parseAddresses>;
  try {
    parsed = parseAddresses(listen, (v.bootstrap as string[] | undefined) ?? []);
  } catch (e) {
    if (!isMeshError(e, 'INVALID_ARGUMENT')) throw e;
    const msg = e.message.replace(/^listen address/, '--listen').replace(/^bootstrap address/, '--bootstrap');
    throw new UsageError(msg);
  }
  for (const [i, ma] of parsed.listen.entries()) {
    const names = ma.getComponents().map((c) => c.name);
    if (names.length !== 2 || (names[0] !== 'ip4' && names[0] !== 'ip6') || names[1] !== 'tcp') {
      throw new UsageError(`--listen ${JSON.stringify(listen[i])} is not a TCP address: use /ip4/ADDR/tcp/PORT or /ip6/ADDR/tcp/PORT`);
    }
  }
}
