// Runs a bench entry point as a child process (with the project's polyfills) and collects its
// output: shared by the bench's end-to-end tests. Past `ms` it is interrupted with SIGINT, which the
// bench entry points answer by stopping their own children.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const POLYFILL = fileURLToPath(new URL('../../scripts/polyfills.mjs', import.meta.url));

export function runScript(main: string, args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', POLYFILL, main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
