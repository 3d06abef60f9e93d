// The Transport conformance suite against the in-memory hub, and proof that the suite catches
// broken transports: each deliberately broken in-memory transport below must fail exactly the
// checks its fault breaks, while the real hub passes them all.
import { describe, expect, it } from 'vitest';
import { MemoryHub, type Transport, type TransportHandlers } from '../src/transport.js';
import { checkTransportContract, runTransportContract, type TransportFixture, type TransportSetup } from '../src/testing/index.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function memorySetup(): TransportSetup {
  return async () => {
    const hub = new MemoryHub();
    const all: Transport[] = ['a', 'b', 'c'].map((id) => hub.join(id));
    const transports = [...all];
    let joined = 0;
    const fx: TransportFixture = {
      transports,
      sleep,
      join: async (handlersFor) => {
        const t = hub.join(`joiner-${joined++}`);
        t.setHandlers(handlersFor(t));
        all.push(t);
        return t;
      },
      teardown: () => {
        for (const t of all) void t.close?.();
      },
    };
    return fx;
  };
}

runTransportContract('MemoryHub', memorySetup(), { ordered: true });

// ---- deliberately broken transports ------------------------------------------------------------

interface Faults {
  /** Drops every n-th message a transport sends. */
  dropEvery?: number;
  /** Hands the receiver the caller's buffer instead of a copy. */
  noCopy?: boolean;
  /** setHandlers() keeps calling the first handlers it was given. */
  stickyHandlers?: boolean;
  /** Never tells anyone a peer left. */
  silentLeave?: boolean;
  /** Delivers in reverse order within each send batch (a transport that promises order). */
  reverse?: boolean;
  /** Fires connect before the peer is listed in connectedPeers(). */
  earlyConnect?: boolean;
  /** Keeps delivering to a closed transport. */
  deliverAfterClose?: boolean;
}

/** An in-memory network like MemoryHub, with one or more faults switched on. */
class BrokenHub {
  readonly nodes = new Map<string, BrokenTransport>();
  private batch: (() => void)[] = [];
  constructor(readonly faults: Faults) {}

  join(id: string): BrokenTransport {
    const t = new BrokenTransport(id, this);
    const others = [...this.nodes.values()];
    if (!this.faults.earlyConnect) this.nodes.set(id, t);
    for (const o of others) {
      queueMicrotask(() => {
        o.handlers?.connect(id);
        t.handlers?.connect(o.localId);
      });
    }
    if (this.faults.earlyConnect) queueMicrotask(() => queueMicrotask(() => this.nodes.set(id, t)));
    return t;
  }

  leave(id: string): void {
    const t = this.nodes.get(id);
    if (!t) return;
    if (!this.faults.deliverAfterClose) this.nodes.delete(id);
    else t.closed = true;
    if (this.faults.silentLeave) return;
    for (const o of this.nodes.values()) if (o !== t) queueMicrotask(() => o.handlers?.disconnect(id));
  }

  deliver(from: string, to: string, data: Uint8Array): void {
    const target = this.nodes.get(to);
    if (!target) return;
    const payload = this.faults.noCopy ? data : data.slice();
    const fn = () => target.handlers?.message(from, payload);
    if (!this.faults.reverse) return queueMicrotask(fn);
    this.batch.unshift(fn);
    if (this.batch.length === 1) {
      queueMicrotask(() => {
        const b = this.batch;
        this.batch = [];
        for (const f of b) f();
      });
    }
  }

  peersOf(id: string): string[] {
    return [...this.nodes.values()].filter((t) => t.localId !== id && !t.closed).map((t) => t.localId);
  }
}

class BrokenTransport implements Transport {
  handlers: TransportHandlers | undefined;
  closed = false;
  private sent = 0;
  constructor(
    readonly localId: string,
    private readonly hub: BrokenHub,
  ) {}
  connectedPeers(): string[] {
    return this.hub.peersOf(this.localId);
  }
  send(to: string, data: Uint8Array): void {
    const n = this.hub.faults.dropEvery;
    if (n && ++this.sent % n === 0) return;
    this.hub.deliver(this.localId, to, data);
  }
  setHandlers(h: TransportHandlers): void {
    if (this.hub.faults.stickyHandlers && this.handlers) return;
    this.handlers = h;
  }
  close(): void {
    this.hub.leave(this.localId);
  }
}

function brokenSetup(faults: Faults): TransportSetup {
  return async () => {
    const hub = new BrokenHub(faults);
    const all: Transport[] = ['a', 'b', 'c'].map((id) => hub.join(id));
    await sleep(1);
    let joined = 0;
    return {
      transports: [...all],
      sleep,
      join: async (handlersFor) => {
        const t = hub.join(`joiner-${joined++}`);
        t.setHandlers(handlersFor(t));
        all.push(t);
        return t;
      },
      teardown: () => {
        for (const t of all) void t.close?.();
      },
    };
  };
}

/** The ids of the checks a setup fails (short waits: memory delivery takes microtasks). */
async function failing(setup: TransportSetup, ordered = true): Promise<string[]> {
  const results = await checkTransportContract(setup, { ordered, timeoutMs: 300, quietMs: 50 });
  return results.filter((r) => r.status === 'failed').map((r) => r.id);
}

describe('the Transport contract catches broken transports', () => {
  it('the correct in-memory hub passes every check programmatically too', async () => {
    const results = await checkTransportContract(memorySetup(), { ordered: true, timeoutMs: 300, quietMs: 50 });
    expect(results.map((r) => [r.id, r.status, r.failures])).toEqual(results.map((r) => [r.id, r.id === 'broadcast' ? 'skipped' : 'passed', []]));
    expect(results.find((r) => r.id === 'broadcast')!.note).toMatch(/no broadcast/);
  });

  it('a transport that drops every 2nd message fails the delivery checks', async () => {
    const failed = await failing(brokenSetup({ dropEvery: 2 }));
    expect(failed).toEqual(expect.arrayContaining(['send-intact', 'send-copies', 'many', 'large']));
    expect(failed).not.toContain('local-id');
    // Unordered, the same losses still fail: every message must arrive.
    expect(await failing(brokenSetup({ dropEvery: 2 }), false)).toEqual(expect.arrayContaining(['send-intact', 'many']));
  });

  it("a transport that delivers the caller's buffer fails exactly the copy check", async () => {
    expect(await failing(brokenSetup({ noCopy: true }))).toEqual(['send-copies']);
    const results = await checkTransportContract(brokenSetup({ noCopy: true }), { ordered: true, timeoutMs: 300, quietMs: 50 }, ['send-copies']);
    expect(results[0]!.failures.join('\n')).toMatch(/keep the caller's buffer/);
  });

  it('a transport that reorders fails only where order is promised', async () => {
    expect(await failing(brokenSetup({ reverse: true }))).toEqual(expect.arrayContaining(['send-intact', 'many']));
    expect(await failing(brokenSetup({ reverse: true }), false)).toEqual([]);
  });

  it('handlers that cannot be replaced, a silent leave, an early connect and delivery after close each fail their check', async () => {
    expect(await failing(brokenSetup({ stickyHandlers: true }))).toEqual(['set-handlers']);
    expect(await failing(brokenSetup({ silentLeave: true }))).toEqual(['set-handlers', 'disconnect', 'close']);
    expect(await failing(brokenSetup({ earlyConnect: true }))).toContain('connect');
    expect(await failing(brokenSetup({ deliverAfterClose: true }))).toEqual(expect.arrayContaining(['close']));
  });

  it('names an unknown check instead of running nothing', async () => {
    await expect(checkTransportContract(memorySetup(), { ordered: true }, ['no-such-check'])).rejects.toThrow(/no-such-check/);
    expect(() => runTransportContract('x', memorySetup(), { ordered: true, knownGaps: { nope: 'typo' } })).toThrow(/nope/);
  });
});
