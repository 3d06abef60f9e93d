// A worker thread for sweeps (`pnpm sim -- --seeds A..B`, `npm run soak`): runs the seeds it is
// sent, one at a time. A run that throws comes back as a failed result (same shape).
import { parentPort } from 'node:worker_threads';
import { runSimulation, type SimConfig } from './runner.js';
import { failedResult } from './sweep.js';

parentPort!.on('message', (config: SimConfig) => {
  runSimulation({ ...config, faults: new Set(config.faults) }).then(
    (r) => parentPort!.postMessage(r),
    (e) => parentPort!.postMessage(failedResult(config, `crashed: ${(e as Error).stack ?? String(e)}`)),
  );
});
