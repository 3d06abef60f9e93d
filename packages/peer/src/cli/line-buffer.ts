// Output lines of the CLI, written in one write per event-loop turn instead of one synchronous
// write per line: at thousands of tasks per second a peer's event lines (stdout, --json) and log
// lines (stderr) cost measurable CPU when each is its own write. Lines keep their order and their
// content (a line's timestamps are taken by the caller when the line is made, not at the flush).
//
// A buffer flushes on setImmediate after the first line of a turn, on flush(), and, once
// flushOnExit() ran, when the process exits ('exit': process.exit, the loop running dry) or dies of
// an uncaught exception or rejection ('uncaughtExceptionMonitor', before Node prints the error).
// stdout and stderr are synchronous for files and pipes on Linux, so those flushes land. Only a
// SIGKILL (or a native crash) can lose the lines of the current turn.

/** Lines gathered for one sink, written together once per event-loop turn. */
export class LineBuffer {
  private pending = '';
  private scheduled = false;

  constructor(private readonly sink: (chunk: string) => void) {}

  /** Queues `text` followed by a newline. */
  readonly line = (text: string): void => {
    this.write(text + '\n');
  };

  /** Queues `chunk` as it is (no newline added). */
  write(chunk: string): void {
    this.pending += chunk;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes everything queued now, in one sink call; a failing sink drops the chunk, never throws. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    try {
      this.sink(chunk);
    } catch {
      // stdout/stderr gone (EPIPE, closed): nothing left to tell
    }
  };

  /** Characters queued and not yet written. */
  get queued(): number {
    return this.pending.length;
  }
}

/** The CLI's stdout (event lines, --json) and stderr (log lines). */
export const stdoutLines = new LineBuffer((s) => void process.stdout.write(s));
export const stderrLines = new LineBuffer((s) => void process.stderr.write(s));

/** Writes both CLI buffers now (before a direct write that must come after them). */
export function flushCliOutput(): void {
  stdoutLines.flush();
  stderrLines.flush();
}

let exitHooked = false;

/** Makes sure queued lines are written when the process exits or dies of an uncaught error. */
export function flushOnExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', flushCliOutput);
  process.on('uncaughtExceptionMonitor', flushCliOutput);
}
