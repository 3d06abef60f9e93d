// A worker thread for `pnpm sim -- --seeds A..B`: runs the seeds it is sent, one at a time.
import { parentPort } from 'node:worker_threads';
import { runSimulation, type SimConfig } from './runner.js';

parentPort!.on('message', (config: SimConfig) => {
  runSimulation({ ...config, faults: new Set(config.faults) }).then(
    (r) => parentPort!.postMessage(r),
    (e) => parentPort!.postMessage({ seed: config.seed, ok: false, problems: [`crashed: ${(e as Error).stack ?? String(e)}`] }),
  );
});
