// `npm start` for now: runs the brief's worked case in the simulator (three real peers of capacity
// 10, 20 and 30 tasks/s in virtual time) and prints measured T and D against the model.
// The live demo with N peers and the browser dashboard replaces this (issue "dashboard").
import { runWorkedCase } from '@agentmesh/sim';

const seconds = Number(process.env.AGENTMESH_DEMO_SECONDS ?? 30);
process.stdout.write(`agentmesh demo: the brief's worked case, ${seconds} s of virtual time on 3 real peers...\n`);
const w = await runWorkedCase({ seed: 1, seconds });
process.stdout.write(`  T = ${w.measuredT.toFixed(2)} tasks/s (model ${w.modelT}), D = ${w.measuredD.toFixed(2)} items/s (model ${w.modelD})\n`);
for (const [i, p] of w.perPeer.entries()) {
  process.stdout.write(`  ${p.name}: capacity ${p.capacity}/s, did ${p.tasksPerSec.toFixed(2)} tasks/s, share ${(w.shares[i]! * 100).toFixed(1)}% (model ${(w.modelShares[i]! * 100).toFixed(1)}%)\n`);
}
process.stdout.write('Try the fault simulator: npx pnpm@12.4.2 sim -- --peers 7 --tasks 300 --steps 3000 --seed 42\n');
