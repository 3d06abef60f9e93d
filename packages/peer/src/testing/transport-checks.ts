// The checks of the Transport conformance suite (run by transport-contract.ts), one per promise.
// Each says in its title what the interface promises or what SyncEngine relies on:
// - SyncEngine.start() installs handlers, then greets every peer in connectedPeers(), and greets
//   later peers from the connect handler (a send from inside it);
// - it reads connectedPeers() to choose whom to pull from after a disconnect;
// - it broadcasts updates when broadcast() exists, and otherwise sends to each peer;
// - messages carry the sender's localId as `from`, and bytes must arrive as they were sent.

import type { Transport } from '../transport.js';
import { CheckContext, Recorder, allArrived, deliveryProblem, pattern, sameBytes, type ContractCheck } from './transport-contract.js';

const text = (s: string) => new TextEncoder().encode(s);

function atLeast(ctx: CheckContext, n: number): readonly Transport[] {
  const ts = ctx.fx.transports;
  if (ts.length < n) ctx.abort(`the fixture gave ${ts.length} transports, this check needs ${n}`);
  return ts;
}

/** Leaves as the fixture says, else by close(); skips the check when neither exists. */
async function leave(ctx: CheckContext, t: Transport): Promise<void> {
  if (ctx.fx.leave) return ctx.fx.leave(t);
  if (!t.close) ctx.skip('the fixture has no leave() and the transport no close()');
  await t.close();
}

const localIds: ContractCheck = {
  id: 'local-id',
  title: 'each transport has its own localId, and connectedPeers() lists every other one once, not itself',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const ids = ts.map((t) => t.localId);
    for (const id of ids) ctx.expect(typeof id === 'string' && id.length > 0, `localId ${JSON.stringify(id)} is not a non-empty string`);
    ctx.expect(new Set(ids).size === ids.length, `localIds are not distinct: ${ids.join(', ')}`);
    for (const t of ts) {
      const peers = t.connectedPeers();
      if (!ctx.expect(Array.isArray(peers), `${t.localId}: connectedPeers() is not an array`)) continue;
      ctx.expect(!peers.includes(t.localId), `${t.localId}: connectedPeers() lists itself`);
      ctx.expect(new Set(peers).size === peers.length, `${t.localId}: connectedPeers() lists a peer twice: ${peers.join(', ')}`);
      for (const id of ids) if (id !== t.localId) ctx.expect(peers.includes(id), `${t.localId}: connectedPeers() does not list ${id}`);
    }
  },
};

const connect: ContractCheck = {
  id: 'connect',
  title: 'a new peer fires connect on both sides once, with connectedPeers() already listing it, and a send from the connect handler arrives',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const hello = (id: string) => text(`hello from ${id}`);
    const recs = ts.map((t) => ctx.record(t, { connect: (peer) => t.send(peer, hello(t.localId)) }));
    let joiner: Transport | undefined;
    const jrec = new Recorder(() => joiner, { connect: (peer) => joiner?.send(peer, hello(joiner.localId)) });
    joiner = await ctx.fx.join((t) => {
      joiner = t;
      return jrec;
    });
    const jid = joiner.localId;
    ctx.expect(!ts.some((t) => t.localId === jid), `the joiner's localId ${jid} is already taken`);
    await ctx.waitFor(
      () => recs.every((r) => r.eventsFor(jid, 'connect').length > 0) && ts.every((t) => jrec.eventsFor(t.localId, 'connect').length > 0),
      'connect events for the joiner on every side',
    );
    for (const [i, t] of ts.entries()) {
      for (const e of recs[i]!.eventsFor(jid, 'connect')) ctx.expect(e.listed === true, `${t.localId}: connect(${jid}) fired before connectedPeers() listed it`);
      for (const e of jrec.eventsFor(t.localId, 'connect')) ctx.expect(e.listed === true, `joiner: connect(${t.localId}) fired before connectedPeers() listed it`);
      ctx.expect(t.connectedPeers().includes(jid), `${t.localId}: connectedPeers() does not list the joiner`);
      ctx.expect(joiner.connectedPeers().includes(t.localId), `joiner: connectedPeers() does not list ${t.localId}`);
    }
    await ctx.waitFor(
      () => recs.every((r) => r.from(jid).some((m) => sameBytes(m, hello(jid)))) && ts.every((t) => jrec.from(t.localId).some((m) => sameBytes(m, hello(t.localId)))),
      'the greetings sent from connect handlers',
    );
    await ctx.quiet();
    for (const [i, t] of ts.entries()) {
      ctx.expect(recs[i]!.eventsFor(jid, 'connect').length === 1, `${t.localId}: connect(${jid}) fired ${recs[i]!.eventsFor(jid, 'connect').length} times`);
      ctx.expect(jrec.eventsFor(t.localId, 'connect').length === 1, `joiner: connect(${t.localId}) fired ${jrec.eventsFor(t.localId, 'connect').length} times`);
    }
  },
};

const sendIntact: ContractCheck = {
  id: 'send-intact',
  title: "send() delivers every message between every pair, bytes intact (0 B to 70 kB), with the sender's localId as from",
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const recs = ts.map((t) => ctx.record(t));
    const sizes = [0, 1, 255, 4096, 70_000];
    const sent = new Map<string, Uint8Array[]>(); // "from>to"
    ts.forEach((a, i) =>
      ts.forEach((b, j) => {
        if (i === j) return;
        const msgs = sizes.map((n, k) => pattern(n, i * 100 + j * 10 + k));
        sent.set(`${a.localId}>${b.localId}`, msgs);
        for (const m of msgs) a.send(b.localId, m.slice());
      }),
    );
    const pairs = [...sent.entries()].map(([k, msgs]) => {
      const [from, to] = k.split('>') as [string, string];
      return { from, to, msgs, rec: recs[ts.findIndex((t) => t.localId === to)]! };
    });
    await ctx.waitFor(() => pairs.every((p) => allArrived(p.rec.from(p.from), p.msgs)), 'every message between every pair');
    await ctx.quiet();
    for (const p of pairs) {
      const problem = deliveryProblem(p.rec.from(p.from), p.msgs, ctx.ordered);
      ctx.expect(problem === undefined, `${p.from} -> ${p.to}: ${problem}`);
    }
    const ids = new Set(ts.map((t) => t.localId));
    for (const [i, r] of recs.entries()) {
      for (const m of r.messages) ctx.expect(ids.has(m.from) && m.from !== ts[i]!.localId, `${ts[i]!.localId}: a message claims to be from ${m.from}`);
    }
  },
};

const sendCopies: ContractCheck = {
  id: 'send-copies',
  title: 'send() takes the bytes as they are at the call: changing or reusing the buffer afterwards does not change what arrives',
  async run(ctx) {
    const [a, b] = atLeast(ctx, 2) as [Transport, Transport];
    const rb = ctx.record(b);
    const first = pattern(1000, 1);
    const second = pattern(1000, 2);
    const buf = first.slice();
    a.send(b.localId, buf);
    buf.set(second); // a sender reusing its buffer for the next message
    a.send(b.localId, buf);
    buf.fill(0xee);
    await ctx.waitFor(() => rb.from(a.localId).length >= 2, 'both messages');
    await ctx.quiet();
    buf.fill(0x11); // a late change must not reach a buffer the receiver was handed
    const problem = deliveryProblem(rb.from(a.localId), [first, second], ctx.ordered);
    ctx.expect(problem === undefined, `${problem} (does send() keep the caller's buffer instead of a copy?)`);
  },
};

const many: ContractCheck = {
  id: 'many',
  title: 'hundreds of messages from one or two senders all reach one receiver (in send order per sender, when promised)',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const receiver = ts[1]!;
    const senders = ts.length >= 3 ? [ts[0]!, ts[2]!] : [ts[0]!];
    const rec = ctx.record(receiver);
    const n = 300;
    const sent = new Map(senders.map((s) => [s.localId, [] as Uint8Array[]]));
    for (let k = 0; k < n; k++) {
      for (const s of senders) {
        const m = text(`${s.localId}:${k}`);
        sent.get(s.localId)!.push(m);
        s.send(receiver.localId, m.slice());
      }
    }
    await ctx.waitFor(() => senders.every((s) => rec.from(s.localId).length >= n), `${n} messages from each of ${senders.length} senders`);
    await ctx.quiet();
    for (const s of senders) {
      const problem = deliveryProblem(rec.from(s.localId), sent.get(s.localId)!, ctx.ordered);
      ctx.expect(problem === undefined, `${s.localId} -> ${receiver.localId}: ${problem}`);
    }
  },
};

const broadcast: ContractCheck = {
  id: 'broadcast',
  title: 'broadcast(), when present, reaches every connected peer with the bytes intact',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    if (ts.some((t) => typeof t.broadcast !== 'function')) ctx.skip('the transport has no broadcast()');
    const recs = ts.map((t) => ctx.record(t));
    const payloads = ts.map((_, i) => pattern(2000 + i, 50 + i));
    ts.forEach((t, i) => t.broadcast!(payloads[i]!.slice()));
    const reached = (i: number, j: number) => recs[j]!.from(ts[i]!.localId).some((m) => sameBytes(m, payloads[i]!));
    const pairs = ts.flatMap((_, i) => ts.map((_, j) => [i, j] as const)).filter(([i, j]) => i !== j);
    await ctx.waitFor(() => pairs.every(([i, j]) => reached(i, j)), 'every broadcast at every other peer');
    for (const [i, j] of pairs) ctx.expect(reached(i, j), `the broadcast of ${ts[i]!.localId} did not reach ${ts[j]!.localId} intact`);
  },
};

const setHandlers: ContractCheck = {
  id: 'set-handlers',
  title: 'setHandlers() replaces the handlers: later messages and events reach the new ones only',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const [a, b] = ts as [Transport, Transport];
    const h1 = ctx.record(b);
    const m1 = text('to the first handlers');
    a.send(b.localId, m1);
    await ctx.waitFor(() => h1.from(a.localId).length > 0, 'a message at the first handlers');
    const h2 = ctx.record(b);
    const seen = { messages: h1.messages.length, events: h1.events.length };
    const m2 = text('to the second handlers');
    a.send(b.localId, m2);
    await ctx.waitFor(() => h2.from(a.localId).some((m) => sameBytes(m, m2)), 'a message at the new handlers');
    const c = ts[2];
    if (c && (ctx.fx.leave || c.close)) {
      await leave(ctx, c);
      await ctx.waitFor(() => h2.eventsFor(c.localId, 'disconnect').length > 0, 'the disconnect at the new handlers');
    }
    await ctx.quiet();
    ctx.expect(h1.messages.length === seen.messages, `the replaced handlers still got ${h1.messages.length - seen.messages} messages`);
    ctx.expect(h1.events.length === seen.events, `the replaced handlers still got ${h1.events.length - seen.events} connect/disconnect events`);
    ctx.expect(!h2.from(a.localId).some((m) => sameBytes(m, m1)), 'the new handlers got the message the first ones had already been given');
  },
};

const disconnect: ContractCheck = {
  id: 'disconnect',
  title: 'when a peer leaves, every other peer gets disconnect once, with connectedPeers() no longer listing it; sending to it does not throw',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const gone = ts[ts.length - 1]!;
    const stay = ts.slice(0, -1);
    const recs = stay.map((t) => ctx.record(t));
    await leave(ctx, gone);
    await ctx.waitFor(() => recs.every((r) => r.eventsFor(gone.localId, 'disconnect').length > 0), `disconnect(${gone.localId}) everywhere`);
    for (const [i, t] of stay.entries()) {
      ctx.noThrow(`${t.localId}: send() to the departed peer`, () => t.send(gone.localId, text('anyone there?')));
      if (t.broadcast) ctx.noThrow(`${t.localId}: broadcast() after a peer left`, () => t.broadcast!(text('anyone?')));
      for (const e of recs[i]!.eventsFor(gone.localId, 'disconnect')) ctx.expect(e.listed === false, `${t.localId}: connectedPeers() still listed ${gone.localId} in its disconnect handler`);
    }
    await ctx.quiet();
    for (const [i, t] of stay.entries()) {
      const n = recs[i]!.eventsFor(gone.localId, 'disconnect').length;
      ctx.expect(n === 1, `${t.localId}: disconnect(${gone.localId}) fired ${n} times`);
      ctx.expect(!t.connectedPeers().includes(gone.localId), `${t.localId}: connectedPeers() still lists ${gone.localId}`);
    }
    if (stay.length >= 2) {
      // The peers that stayed still talk to each other.
      const [a, b] = stay as [Transport, Transport];
      a.send(b.localId, text('still here'));
      await ctx.waitFor(() => recs[1]!.from(a.localId).length > 0, 'a message between the peers that stayed');
    }
  },
};

const close: ContractCheck = {
  id: 'close',
  title: 'close(), when present, stops delivery to the closed transport, and its own send()/broadcast() do not throw',
  async run(ctx) {
    const ts = atLeast(ctx, 2);
    const [a, b] = ts as [Transport, Transport];
    if (typeof b.close !== 'function') ctx.skip('the transport has no close()');
    const rb = ctx.record(b);
    const ra = ctx.record(a);
    await b.close!();
    const after = { messages: rb.messages.length, events: rb.events.length };
    for (const t of ts) if (t !== b) t.send(b.localId, text('after close'));
    a.broadcast?.(text('broadcast after close'));
    ctx.noThrow('send() on a closed transport', () => b.send(a.localId, text('from the closed one')));
    if (b.broadcast) ctx.noThrow('broadcast() on a closed transport', () => b.broadcast!(text('from the closed one')));
    await ctx.waitFor(() => !a.connectedPeers().includes(b.localId), `${a.localId} to stop listing the closed peer`);
    await ctx.quiet();
    ctx.expect(rb.messages.length === after.messages, `the closed transport still delivered ${rb.messages.length - after.messages} messages`);
    ctx.expect(rb.events.length === after.events, `the closed transport still fired ${rb.events.length - after.events} connect/disconnect events`);
    ctx.expect(ra.eventsFor(b.localId, 'disconnect').length > 0, `${a.localId} got no disconnect for the closed peer`);
  },
};

const large: ContractCheck = {
  id: 'large',
  title: 'a large message (1 MiB) arrives intact, and so does a small one sent right after it',
  async run(ctx) {
    const [a, b] = atLeast(ctx, 2) as [Transport, Transport];
    const rb = ctx.record(b);
    const big = pattern(ctx.largeBytes, 9);
    const small = text('after the large one');
    a.send(b.localId, big.slice());
    a.send(b.localId, small.slice());
    await ctx.waitFor(() => rb.from(a.localId).length >= 2, `a ${ctx.largeBytes}-byte message and a small one`);
    const problem = deliveryProblem(rb.from(a.localId), [big, small], ctx.ordered);
    ctx.expect(problem === undefined, `${a.localId} -> ${b.localId}: ${problem}`);
  },
};

/** Every check, in the order they run. */
export const TRANSPORT_CHECKS: readonly ContractCheck[] = [localIds, connect, sendIntact, sendCopies, many, broadcast, setHandlers, disconnect, close, large];
