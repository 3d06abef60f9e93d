// The entry of a bench tool with flags (bench:sustained, bench:idle): its flags parsed, or a usage
// error (exit 2 with the message); --help printed; a failed run reported after every child
// process is stopped (exit 1). Each tool used to carry its own copy of this.
import { installHandlers, stopAll } from './procs.js';

export interface Tool<O> {
  /** Prefix of its error lines, e.g. "bench:idle". */
  name: string;
  help: string;
  /** Throws an Error naming the bad flag (see flags.ts). */
  parse(argv: string[]): O | 'help';
  run(o: O): Promise<void>;
}

/** True when `moduleUrl` (import.meta.url) is the process's entry script (not a test importing it). */
export function isEntryScript(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && entry !== '' && moduleUrl.endsWith(entry.split('/').pop()!);
}

/** Runs `tool` when `moduleUrl` (import.meta.url) is the process's entry script; a test importing the module runs nothing. */
export function runTool<O>(moduleUrl: string, tool: Tool<O>): void {
  if (!isEntryScript(moduleUrl)) return;
  let o: O | 'help';
  try {
    o = tool.parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${tool.name}: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (o === 'help') {
    process.stdout.write(`${tool.help}\n`);
    process.exit(0);
  }
  installHandlers();
  tool.run(o).then(
    async () => {
      await stopAll();
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`${tool.name}: ${(e as Error).stack ?? String(e)}\n`);
      void stopAll().finally(() => process.exit(1));
    },
  );
}
