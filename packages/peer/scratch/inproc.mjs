// Scratch: 3 peers in one process over MemoryHub, N no-op tasks submitted in batches of 500; CPU per task.
import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock } from '@agentmesh/peer';
const N = Number(process.argv[2] ?? 5000);
const hub = new MemoryHub();
const echo = async (p) => p;
const peers = [0, 1, 2].map((i) => new Peer({ id: `peer-${i}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`, name: `P${i}`, capacity: 1e6, concurrency: 50, agents: { echo }, transport: hub.join(`peer-${i}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i + 1, archive: new MemoryArchive() }));
await Promise.all(peers.map((p) => p.start()));
await new Promise((r) => setTimeout(r, 500));
let done = 0;
for (const p of peers) p.on('run-end', (e) => { if (e.outcome === 'done') done++; });
const t0 = Date.now();
const c0 = process.cpuUsage();
let sub = 0;
while (sub < N) {
  const n = Math.min(500, N - sub);
  await peers[(sub / 500) % 3 | 0].submit(Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { i: sub + i } })));
  sub += n;
}
while (done < N) await new Promise((r) => setTimeout(r, 5));
const ms = Date.now() - t0;
const c = process.cpuUsage(c0);
console.log(`${N} tasks in ${ms} ms: ${(N / ms * 1000).toFixed(0)} tasks/s; CPU ${((c.user + c.system) / 1000 / N).toFixed(3)} ms/task (all 3 peers)`);
await Promise.all(peers.map((p) => p.stop()));
