// The simulator's network transport passes the same Transport conformance suite as the real ones,
// with its faults off (no drops, no duplicates; delays of 1-3 ms, so order is not promised). The
// fixture drives the simulator's virtual time; nothing here changes how the simulator runs.
import { createRng } from '@agentmesh/scheduler';
import type { Transport } from '@agentmesh/peer';
import { runTransportContract, type TransportFixture } from '@agentmesh/peer/testing';
import { CALM, SimNetwork, VirtualScheduler, drainMicrotasks } from '../src/index.js';

async function simSetup(): Promise<TransportFixture> {
  const sched = new VirtualScheduler();
  const net = new SimNetwork(sched, createRng(1));
  net.faults = { ...CALM, drop: 0, duplicate: 0 };
  const sleep = (ms: number) => sched.runUntil(sched.time + ms, drainMicrotasks);
  const ids = ['a', 'b', 'c'];
  const transports: Transport[] = ids.map((id) => net.attach(id));
  await sleep(1); // the connect notifications
  let joined = 0;
  return {
    transports,
    sleep,
    join: async (handlersFor) => {
      const id = `joiner-${joined++}`;
      ids.push(id);
      const t = net.attach(id);
      t.setHandlers(handlersFor(t));
      return t;
    },
    // A peer stopping or crashing: the simulator detaches it (SimTransport has no close()).
    leave: (t) => net.detach(t.localId),
    teardown: () => {
      for (const id of ids) net.detach(id);
    },
  };
}

runTransportContract('simulator network (faults off)', simSetup, { ordered: false });
