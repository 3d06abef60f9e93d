// The libp2p transport over real loopback TCP against the Transport conformance suite: three nodes
// meshed through one bootstrap peer per check, every node closed afterwards. One direct stream per
// peer keeps send order, so order is checked.
import { createMeshTransport, generatePeerKey, type MeshTransport } from '../src/net/libp2p-transport.js';
import { runTransportContract, type TransportFixture } from '../src/testing/index.js';
import { until } from './helpers.js';
import { silentLogger } from '../src/logger.js';

async function libp2pSetup(): Promise<TransportFixture> {
  const open: MeshTransport[] = [];
  const node = async (bootstrap?: string[]) => {
    const t = await createMeshTransport({ privateKey: await generatePeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, logger: silentLogger });
    open.push(t);
    return t;
  };
  const teardown = async () => {
    await Promise.all(open.map((t) => t.close()));
  };
  try {
    const a = await node();
    const b = await node(a.multiaddrs());
    const c = await node(a.multiaddrs());
    await until(() => [a, b, c].every((t) => t.connectedPeers().length === 2), 10_000, 'a full mesh of 3');
    return {
      transports: [a, b, c],
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      join: async (handlersFor) => {
        const t = await node(a.multiaddrs());
        t.setHandlers(handlersFor(t));
        return t;
      },
      teardown,
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}

runTransportContract('libp2p over TCP', libp2pSetup, {
  ordered: true,
  timeoutMs: 10_000, // a joiner meets the peers beyond its bootstrap through peer exchange
});
