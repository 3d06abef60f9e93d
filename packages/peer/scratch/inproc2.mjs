import { MemoryArchive, MemoryDisk, MemoryStorage } from '@agentmesh/crdt-store';
import { MemoryHub, Peer, systemClock } from '@agentmesh/peer';
const N = Number(process.argv[2] ?? 5000);
const hub = new MemoryHub();
const echo = async (p) => p;
const peers = [0, 1, 2].map((i) => new Peer({ id: `peer-${i}`, name: `P${i}`, capacity: 1e6, concurrency: 50, agents: { echo }, transport: hub.join(`peer-${i}`), storage: new MemoryStorage(new MemoryDisk()), clock: systemClock, seed: i + 1, archive: new MemoryArchive() }));
await Promise.all(peers.map((p) => p.start()));
await new Promise((r) => setTimeout(r, 500));
let done = 0;
for (const p of peers) p.on('run-end', (e) => { if (e.outcome === 'done') done++; });
const t0 = Date.now();
const iv = setInterval(() => console.log(Date.now() - t0, 'done', done, peers.map((p) => `${p.name}: load ${p.load} running ${p.runningCount} ${JSON.stringify(p.status().tasks)}`).join(' | ')), 500);
let sub = 0;
while (sub < N) {
  const n = Math.min(500, N - sub);
  await peers[(sub / 500) % 3 | 0].submit(Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: { i: sub + i } })));
  sub += n;
}
console.log('submitted', Date.now() - t0);
while (done < N) await new Promise((r) => setTimeout(r, 5));
clearInterval(iv);
console.log(`${N} tasks in ${Date.now() - t0} ms`);
await Promise.all(peers.map((p) => p.stop()));
