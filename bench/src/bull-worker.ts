// Why: BullMQ workers must run in their own processes (like agentmesh peers do), so this is the
// child entry: one Worker (concurrency from argv) that no-ops each job and reports to the parent
// over IPC: completion counts (batched every 50 ms) and, for latency jobs, Date.now() at start.
import { Worker } from 'bullmq';

const [port, queueName, concurrencyArg] = process.argv.slice(2);
const send = (m: unknown) => process.send?.(m);
let completed = 0;
let lastAt = 0;
let reported = -1;

const worker = new Worker(
  queueName!,
  async (job) => {
    const data = job.data as { l?: number };
    if (data.l !== undefined) send({ kind: 'start', l: data.l, t: Date.now() });
    return null;
  },
  { connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null }, concurrency: Number(concurrencyArg), autorun: true },
);
worker.on('completed', () => {
  completed++;
  lastAt = Date.now();
});
worker.on('error', (e) => process.stderr.write(`bull-worker: ${e.message}\n`));
const iv = setInterval(() => {
  if (completed !== reported) {
    reported = completed;
    send({ kind: 'count', completed, lastAt });
  }
}, 50);
void worker.waitUntilReady().then(() => send({ kind: 'ready' }));
process.on('message', (m: { kind?: string }) => {
  if (m?.kind === 'reset') {
    completed = 0;
    reported = -1;
    lastAt = 0;
  }
});
const stop = () => {
  clearInterval(iv);
  void worker.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
