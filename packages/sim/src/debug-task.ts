// Debugging one task of a seed: with SIM_DEBUG_TASK=<id>, each peer's log lines that name it (and
// generation changes), its run starts and every change of it on each board go to stderr, stamped
// with the simulated time. Off (and free) otherwise.
import type { Logger } from '@agentmesh/scheduler';
import type { Peer } from '@agentmesh/peer';

/**
 * With SIM_DEBUG_TASK=<id>, a peer's log lines that name the task (or a generation change) go to
 * stderr with the simulated time: how one task went, from one seed.
 */
export function debugLogger(id: string, now: () => number): Logger | undefined {
  const task = process.env.SIM_DEBUG_TASK;
  if (!task) return undefined;
  return {
    log: (level, msg, fields) => {
      const text = JSON.stringify(fields ?? {});
      if (text.includes(task) || /generation/.test(msg)) process.stderr.write(`t=${now()} ${id} ${level} ${msg} ${text}\n`);
    },
  };
}

/** With SIM_DEBUG_TASK=<id>, every change of the task on this peer's board goes to stderr (simulated time, facts held). */
export function watchTask(peer: Peer, id: string, now: () => number): void {
  const task = process.env.SIM_DEBUG_TASK;
  if (!task) return;
  const follow = (board: Peer['document']['board']) =>
    board.onChange((c) => {
      if (!c.tasks.has(task)) return;
      const gone = c.removed.some((r) => r.id === task);
      process.stderr.write(`t=${now()} ${id} board ${c.local ? "local" : "remote"}${gone ? " removed" : ""} seg=${board.batchOf(task) ?? "-"} spec=${board.getSpec(task) !== undefined} facts=${board.factKeysOf(task).join('|')}\n`);
    });
  follow(peer.document.board);
  peer.document.on('replaced', (e) => follow(e.board));
}

/** With SIM_DEBUG_TASK set, a fault the simulator injects (split, heal, crash, restart) goes to stderr too. */
export function debugFault(now: number, what: string): void {
  if (process.env.SIM_DEBUG_TASK) process.stderr.write(`t=${now} fault ${what}\n`);
}
