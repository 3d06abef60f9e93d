// Why: issue 11 asks what the sync engine spends per update: one decode or two, anti-entropy pulls
// under load, and pull answers that re-encode the whole document. This measures it in ONE process:
//
// 1. primitives on a realistic document (20,000 task-like entries, half overwritten once):
//    check-then-apply (Y.decodeUpdate + Y.applyUpdate) against one apply, and answering a peer k
//    updates behind with Y.encodeStateAsUpdate(doc, sv) against Y.diffUpdate over the k updates;
// 2. N SyncEngines over an in-memory hub that delays every message by a few ms (so updates are in
//    flight when notices arrive), all starting from that document, each writing task-like entries
//    at a fixed rate with anti-entropy every 200 ms: CPU per update applied, sync bytes per update
//    per receiver, pulls and how they were answered.
//
//   npm run sync-costs                          # 3 and 15 engines
//   npm run sync-costs -- --peers 3 --seconds 3
import * as Y from 'yjs';
import { SyncEngine, systemClock, type Transport, type TransportHandlers } from '@agentmesh/peer';
import { round } from './stats.js';

interface Args {
  peers: number[];
  seconds: number;
  rate: number;
  latencyMs: number;
  docEntries: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { peers: [3, 15], seconds: 4, rate: 200, latencyMs: 3, docEntries: 20_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    const v = argv[i + 1];
    if (k === '--peers') a.peers = String(v).split(',').map(Number);
    else if (k === '--seconds') a.seconds = Number(v);
    else if (k === '--rate') a.rate = Number(v);
    else if (k === '--latency') a.latencyMs = Number(v);
    else if (k === '--entries') a.docEntries = Number(v);
    else if (k === '--help') {
      process.stdout.write('sync-costs [--peers 3,15] [--seconds 4] [--rate <updates/s, whole mesh>] [--latency <ms>] [--entries 20000]\n');
      process.exit(0);
    } else throw new Error(`unknown flag ${k}`);
  }
  return a;
}

const value = (i: number, who = 'peer') => JSON.stringify({ type: 'noop', by: `12D3KooW${who}${'x'.repeat(40)}`, at: 1_700_000_000_000 + i, state: 'done', result: { ok: true } });

/** A document like a busy board: `n` entries, half of them overwritten once (so a delete set). */
function bigDoc(n: number): Y.Doc {
  const doc = new Y.Doc();
  const m = doc.getMap<string>('tasks');
  for (let i = 0; i < n; i += 500) doc.transact(() => {
    for (let j = i; j < Math.min(n, i + 500); j++) m.set(`t-${j}`, value(j));
  });
  for (let i = 0; i < n; i += 1000) doc.transact(() => {
    for (let j = i; j < Math.min(n, i + 1000); j += 2) m.set(`t-${j}`, value(j, 'again'));
  });
  return doc;
}

/** The best of `reps` runs, µs (the machine may be shared). */
function time(fn: () => void, reps: number): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000);
  }
  return best;
}

function primitives(a: Args): Record<string, number> {
  const base = bigDoc(a.docEntries);
  const baseUpdate = Y.encodeStateAsUpdate(base);
  // 2,000 realistic updates: a new entry and an overwrite each.
  const src = new Y.Doc();
  Y.applyUpdate(src, baseUpdate);
  const updates: Uint8Array[] = [];
  src.on('update', (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < 2000; i++) src.transact(() => {
    src.getMap('tasks').set(`n-${i}`, value(i));
    src.getMap('tasks').set(`t-${i * 3}`, value(i, 'moved'));
  });
  const applyAll = (check: boolean) => {
    const d = new Y.Doc();
    Y.applyUpdate(d, baseUpdate);
    const t0 = process.hrtime.bigint();
    for (const u of updates) {
      if (check) Y.decodeUpdate(u);
      Y.applyUpdate(d, u);
    }
    return Number(process.hrtime.bigint() - t0) / 1000 / updates.length;
  };
  // Alternating runs, the best of each: the machine may be shared.
  let check = Infinity;
  let once = Infinity;
  for (let r = 0; r < 5; r++) {
    check = Math.min(check, applyAll(true));
    once = Math.min(once, applyAll(false));
  }
  const out: Record<string, number> = {
    docBytes: baseUpdate.byteLength,
    updateBytes: round(updates.reduce((s, u) => s + u.byteLength, 0) / updates.length, 0),
    checkThenApplyUs: round(check, 1),
    applyOnceUs: round(once, 1),
  };
  for (const k of [1, 10, 100]) {
    const behind = new Y.Doc();
    Y.applyUpdate(behind, baseUpdate);
    for (const u of updates.slice(0, updates.length - k)) Y.applyUpdate(behind, u);
    const sv = Y.encodeStateVector(behind);
    const recent = updates.slice(updates.length - k);
    const full = Y.encodeStateAsUpdate(src, sv);
    const ring = Y.diffUpdate(k === 1 ? recent[0]! : Y.mergeUpdates(recent), sv);
    out[`answer${k}FullUs`] = round(time(() => Y.encodeStateAsUpdate(src, sv), 20), 0);
    out[`answer${k}RingUs`] = round(time(() => Y.diffUpdate(k === 1 ? recent[0]! : Y.mergeUpdates(recent), sv), 20), 0);
    out[`answer${k}FullBytes`] = full.byteLength;
    out[`answer${k}RingBytes`] = ring.byteLength;
  }
  return out;
}

/** Every transport joined is connected to every other; each message arrives `latencyMs` later. */
class DelayHub {
  private readonly nodes = new Map<string, { handlers?: TransportHandlers }>();
  /** Messages and bytes sent, by kind (first generation's sync messages: outer type 0, then the sub type). */
  readonly sent: Record<string, { n: number; bytes: number }> = {};
  constructor(private readonly latencyMs: number) {}
  private count(data: Uint8Array): void {
    const kind = data[0] === 0 ? (['pull', 'answer', 'update', 'notice'][data[1]!] ?? 'other') : data[0] === 10 ? 'probe' : 'other';
    const c = (this.sent[kind] ??= { n: 0, bytes: 0 });
    c.n++;
    c.bytes += data.byteLength;
  }
  join(id: string): Transport {
    const self: { handlers?: TransportHandlers } = {};
    this.nodes.set(id, self);
    return {
      localId: id,
      connectedPeers: () => [...this.nodes.keys()].filter((p) => p !== id),
      setHandlers: (h) => {
        self.handlers = h;
      },
      send: (to, data) => {
        this.count(data);
        const copy = data.slice();
        setTimeout(() => this.nodes.get(to)?.handlers?.message(id, copy), this.latencyMs);
      },
    };
  }
}

async function mesh(n: number, a: Args): Promise<Record<string, number | string>> {
  const start = Y.encodeStateAsUpdate(bigDoc(a.docEntries));
  const hub = new DelayHub(a.latencyMs);
  const docs = Array.from({ length: n }, () => {
    const d = new Y.Doc();
    Y.applyUpdate(d, start);
    return d;
  });
  const engines = docs.map((d, i) => new SyncEngine(d, hub.join(`p${i}`), { clock: systemClock, batchMs: 2, antiEntropyMs: 200, repairMs: 30, maxMessageBytes: 64 << 20 }));
  for (const e of engines) e.start();
  await new Promise((r) => setTimeout(r, 300));
  const s0 = engines.map((e) => ({ ...e.stats }));
  const h0 = JSON.parse(JSON.stringify(hub.sent)) as DelayHub['sent'];
  const cpu0 = process.cpuUsage();
  const perPeer = Math.round((a.rate * a.seconds) / n);
  const intervalMs = (1000 * n) / a.rate;
  const t0 = Date.now();
  let written = 0;
  for (let i = 0; i < perPeer; i++) {
    for (let p = 0; p < n; p++) {
      docs[p]!.transact(() => {
        docs[p]!.getMap('tasks').set(`p${p}-${i}`, value(i));
        docs[p]!.getMap('tasks').set(`t-${(i * n + p) % a.docEntries}`, value(i, `p${p}`));
      });
      written++;
    }
    const due = t0 + (i + 1) * intervalMs;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ref = Y.encodeStateVector(docs[0]!);
    if (docs.every((d) => Buffer.from(Y.encodeStateVector(d)).equals(Buffer.from(ref)))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 500));
  const cpu = process.cpuUsage(cpu0);
  const d = (k: string) => engines.reduce((s, e, i) => s + (((e.stats as unknown as Record<string, number>)[k] ?? 0) - ((s0[i] as unknown as Record<string, number>)[k] ?? 0)), 0);
  for (const e of engines) e.stop(false);
  const applied = written * (n - 1);
  const h = (k: string) => ({ n: (hub.sent[k]?.n ?? 0) - (h0[k]?.n ?? 0), bytes: (hub.sent[k]?.bytes ?? 0) - (h0[k]?.bytes ?? 0) });
  const kinds = ['update', 'notice', 'pull', 'answer', 'probe', 'other'];
  const total = kinds.reduce((sum, k) => sum + h(k).bytes, 0);
  return {
    peers: n,
    updates: written,
    cpuUsPerUpdateApplied: round((cpu.user + cpu.system) / applied, 1),
    syncBytesPerUpdatePerReceiver: round(total / applied, 0),
    updateBytesPerUpdatePerReceiver: round(h('update').bytes / applied, 0),
    pulls: h('pull').n,
    pullAnswerBytes: h('answer').bytes,
    notices: h('notice').n,
    probes: h('probe').n,
    answeredFromRecent: d('answeredFromRecent'),
    answeredFull: d('answeredFull'),
    repairs: d('repairs'),
    rejected: d('rejected'),
  };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const prim = primitives(a);
  process.stdout.write(`primitives (document of ${a.docEntries} entries, ${prim.docBytes} B; updates ~${prim.updateBytes} B):\n${JSON.stringify(prim, null, 1)}\n`);
  for (const n of a.peers) {
    const r = await mesh(n, a);
    process.stdout.write(`mesh ${JSON.stringify(r)}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`sync-costs: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
