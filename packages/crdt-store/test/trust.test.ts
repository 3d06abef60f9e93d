// Signed entries: a board signs what it writes (single entries one by one, batches once over the
// Merkle root of their leaves), a replica counts an entry only when it is signed by the author it
// names; forged, unsigned and non-member entries are refused and counted; single entries split out
// of batches (a generation copy, an archived record written back) still verify under their author;
// a removed author's entries count only when the removal keeps them.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { TaskSpec } from '@agentmesh/scheduler';
import { EntryTrust, ROOT, TaskBoard, batchTaskId, decodeActivity, decodeTaskBatch, ed25519KeyOfPeerId, encodeTaskBatch, taskBatchLeaves, withSignature, withSignatures, type DistrustEvent, type EntrySigner, type SignatureScheme, type TaskBatch, type TaskRecord } from '../src/index.js';

const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const scheme: SignatureScheme = {
  sha256: (d) => createHash('sha256').update(d).digest(),
  verify: (pk, m, s) => {
    try {
      return verify(null, m, createPublicKey({ key: Buffer.concat([SPKI, pk]), format: 'der', type: 'spki' }), s);
    } catch {
      return false;
    }
  },
};

function keyPair(author: string): EntrySigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' });
  return { author, publicKey: new Uint8Array(raw.subarray(raw.length - 32)), sign: (m) => new Uint8Array(sign(null, m, privateKey)) };
}

const keys = new Map<string, EntrySigner>(['p1', 'p2', 'p3'].map((p) => [p, keyPair(p)]));
const keyOf = (a: string) => keys.get(a)?.publicKey;

function trustOf(author: string | undefined, events: DistrustEvent[] = []) {
  return new EntryTrust({ scheme, ...(author ? { signer: keys.get(author)! } : {}), keyOf, onDistrust: (e) => events.push(e) });
}

const spec = (id: string, over: Partial<TaskSpec> = {}): TaskSpec => ({
  id, type: 'echo', payload: { n: 1 }, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3,
  timeoutMs: 0, createdAt: 1000, createdBy: 'p1', notBefore: 0, strategy: 'capacity-weighted', ...over,
});

function batch(key: string, n: number): TaskBatch {
  return { createdBy: 'p1', createdAt: 1000, tasks: Array.from({ length: n }, (_, i) => (i % 2 ? { spec: spec(batchTaskId(key, i)) } : { spec: spec(batchTaskId(key, i)), assignee: 'p2' })) };
}

/** Two replicas synced through updates; `a` writes as p1, `b` reads as p2. */
function pair() {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u, 'remote'));
  const events: DistrustEvent[] = [];
  const ta = trustOf('p1');
  const tb = trustOf('p2', events);
  const ba = new TaskBoard(a, { now: () => 100, trust: ta });
  const bb = new TaskBoard(b, { now: () => 200, trust: tb });
  return { a, b, ba, bb, ta, tb, events };
}

describe('signed entries', () => {
  it('every kind of entry a board writes is signed and counts on another replica', () => {
    const { ba, bb, tb, a } = pair();
    ba.putTask(spec('single'));
    ba.putTaskBatch('s1', batch('s1', 5));
    ba.putBid('single', { peer: 'p1', round: 1, score: 1, load: 0, capacity: 10, at: 5 });
    ba.putActivity('a1', { peer: 'p1', records: [{ kind: 'claim', task: 's1.1', round: 1, at: 10.4, score: 0 }, { kind: 'done', task: 's1.1', round: 1, at: 12, ms: 2, result: { ok: true } }] });
    ba.registerPeer({ id: 'p1', name: 'A', capabilities: ['echo'], capacity: 10, concurrency: 4, startedAt: 1 });
    ba.heartbeat('p1', { at: 1, seq: 1, load: 0, running: 0, done: 0, dataWrites: 0 });
    ba.writeData('ns', 'k', { v: 1 }, 'p1', 3);
    expect(tb.counts).toEqual({ badSignature: 0, wrongAuthor: 0, removedAuthor: 0 });
    expect(bb.taskCount).toBe(6);
    expect(bb.getFacts('single')!.bids.length).toBe(1);
    expect(bb.getFacts('s1.1')!.dones.length).toBe(1);
    expect(bb.peer('p1')?.name).toBe('A');
    expect(bb.beat('p1')?.seq).toBe(1);
    expect(bb.getData('ns', 'k')?.value).toEqual({ v: 1 });
    // Single entries carry a signature; batches are version 2 (signed) and decode as before.
    expect(typeof (a.getMap(ROOT.facts).get('single/bid/1/p1') as { sig?: unknown }).sig).toBe('string');
    const seg = decodeTaskBatch('s1', a.getMap(ROOT.segs).get('s1'));
    expect(seg.ok && seg.value.sig?.length).toBe(64);
    const act = decodeActivity(a.getMap(ROOT.acts).get('a1'));
    expect(act.ok && act.value.sig?.length).toBe(64);
  });

  it('a member writing in another member\'s name, unsigned entries and non-members are refused and counted', () => {
    const { a, bb, tb, events } = pair();
    const mallory = trustOf('p3');
    const facts = a.getMap(ROOT.facts);
    // p3 forges a done of p1 (signed with its own key), and an unsigned claim of p1.
    facts.set('t/done/1/p1', mallory.signed(ROOT.facts, 't/done/1/p1', { peer: 'p1', round: 1, result: 'forged', at: 1, ms: 1 }));
    facts.set('t/claim/1/p1', { peer: 'p1', round: 1, score: 0, at: 1 });
    // A task naming an author with no key; a tampered copy of a valid signed entry.
    a.getMap(ROOT.tasks).set('manual', { ...spec('manual', { createdBy: 'manual' }) });
    const good = trustOf('p1').signed(ROOT.tasks, 't', spec('t'));
    a.getMap(ROOT.tasks).set('t', { ...good, payload: { n: 2 } });
    expect(bb.getSpec('manual')).toBeUndefined();
    expect(bb.getSpec('t')).toBeUndefined();
    expect(bb.getFacts('t')).toBeUndefined();
    expect(tb.counts).toEqual({ badSignature: 3, wrongAuthor: 1, removedAuthor: 0 });
    expect(events.map((e) => e.reason).sort()).toEqual(['badSignature', 'badSignature', 'badSignature', 'wrongAuthor']);
    // A forged batch: p3 signs a batch claiming to be p1's.
    const forged = new Y.Doc();
    const fb = new TaskBoard(forged, { now: () => 1, trust: trustOf('p3') });
    fb.putTaskBatch('s9', batch('s9', 3));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(forged));
    expect(bb.getSpec('s9.0')).toBeUndefined();
    expect(tb.counts.badSignature).toBe(4);
  });

  it('an entry that does not count cannot hide a batch task under the same id, whichever arrives first', () => {
    const { a, ba, bb } = pair();
    // First the squatter, then the batch; then a squatter on another task of the batch.
    a.getMap(ROOT.tasks).set('s1.0', { ...spec('s1.0'), sig: 'x'.repeat(86) });
    ba.putTaskBatch('s1', batch('s1', 2));
    a.getMap(ROOT.tasks).set('s1.1', spec('s1.1'));
    expect(bb.getSpec('s1.0')?.id).toBe('s1.0');
    expect(bb.getSpec('s1.1')?.id).toBe('s1.1');
    expect(bb.batchOf('s1.0')).toBe('s1');
    expect(bb.batchOf('s1.1')).toBe('s1');
  });

  it('a generation copy splits batches into single entries that still verify under their authors', () => {
    const { ba, tb } = pair();
    ba.putTaskBatch('s1', batch('s1', 7));
    ba.putTask(spec('single'));
    ba.putActivity('a1', { peer: 'p1', records: [{ kind: 'claim', task: 's1.0', round: 1, at: 10.7, score: 0 }, { kind: 'done', task: 's1.2', round: 1, at: 11, ms: 2, result: [1, 2] }, { kind: 'fail', task: 's1.3', round: 1, at: 12, error: 'x' }] });
    // p3 starts the next generation and copies everything but s1.4.
    const next = new Y.Doc();
    const copier = new TaskBoard(next, { now: () => 1, trust: trustOf('p3') });
    const dropped = ba.copyInto(copier, new Set(['s1.4']));
    expect(dropped.map((r) => r.id)).toEqual(['s1.4']);
    const reader = new Y.Doc();
    const events: DistrustEvent[] = [];
    const rt = trustOf('p2', events);
    const rb = new TaskBoard(reader, { now: () => 1, trust: rt });
    Y.applyUpdate(reader, Y.encodeStateAsUpdate(next));
    expect(events).toEqual([]);
    expect(rb.taskCount).toBe(7);
    expect(rb.getFacts('s1.0')!.claims.length).toBe(1);
    expect(rb.getFacts('s1.0')!.assignee).toBe('p2');
    expect(rb.getFacts('s1.2')!.dones[0]!.result).toEqual([1, 2]);
    expect(rb.getFacts('s1.3')!.fails.length).toBe(1);
    // A split entry with a changed value, or moved to another key, no longer verifies.
    const copied = next.getMap(ROOT.tasks).get('s1.5') as Record<string, unknown>;
    expect(typeof copied.sig).toBe('object');
    const evil = new Y.Doc();
    const et = trustOf('p2');
    const eb = new TaskBoard(evil, { now: () => 1, trust: et });
    evil.getMap(ROOT.tasks).set('s1.5', { ...copied, payload: { n: 666 } });
    evil.getMap(ROOT.tasks).set('s1.6', { ...copied, id: 's1.6' });
    expect(eb.getSpec('s1.5')).toBeUndefined();
    expect(eb.getSpec('s1.6')).toBeUndefined();
    expect(et.counts.badSignature).toBe(2);
    // The dropped record (for the archive) written back into another document verifies too.
    const back = new Y.Doc();
    const wb = new TaskBoard(back, { now: () => 1, trust: trustOf('p3') });
    wb.restore(dropped[0]!);
    const check = new Y.Doc();
    const ct = trustOf('p2');
    const cb = new TaskBoard(check, { now: () => 1, trust: ct });
    Y.applyUpdate(check, Y.encodeStateAsUpdate(back));
    expect(cb.getSpec('s1.4')).toBeDefined();
    expect(ct.counts.badSignature).toBe(0);
    expect(tb.counts.badSignature).toBe(0);
  });

  it('archived records of deleted batch tasks refer to their batches, and are signed again from the batch bytes', () => {
    const { ba, bb } = pair();
    ba.putTaskBatch('s1', batch('s1', 3));
    ba.putActivity('a1', { peer: 'p1', records: [0, 1, 2].map((i) => ({ kind: 'done' as const, task: `s1.${i}`, round: 1, at: 11, ms: 2, result: i })) });
    const removed: TaskRecord[] = [];
    const sheets = new Map<string, Uint8Array>();
    bb.onChange((c) => {
      removed.push(...c.removed);
      for (const [k, v] of c.sheets ?? []) sheets.set(k, v);
    });
    ba.deleteTasks(new Set(['s1.0', 's1.1', 's1.2']));
    expect(removed.length).toBe(3);
    // Each batch entry holds a reference (batch and index), not a signature and Merkle path; the
    // change carries the two batches' bytes once.
    expect((removed[2]!.spec as { sig: unknown }).sig).toEqual({ b: 'segs', k: 's1', i: 2 });
    expect(Object.values(removed[2]!.facts).map((f) => (f as { sig: unknown }).sig)).toEqual([{ b: 'acts', k: 'a1', i: 2 }]);
    expect([...sheets.keys()].sort()).toEqual(['acts/a1', 'segs/s1']);
    const writeBack = (records: TaskRecord[]) => {
      const back = new Y.Doc();
      const wb = new TaskBoard(back, { now: () => 1, trust: trustOf('p2') });
      for (const r of records) wb.restore(r);
      const check = new Y.Doc();
      const ct = trustOf('p3');
      const cb = new TaskBoard(check, { now: () => 1, trust: ct });
      Y.applyUpdate(check, Y.encodeStateAsUpdate(back));
      return { ct, cb };
    };
    // One call loads each batch once for all its records (callers pass every record they restore
    // at once: one call per record rebuilt a batch's Merkle levels per record).
    const reads: string[] = [];
    const signed = bb.signedRecords(removed, (k) => (reads.push(k), sheets.get(k)));
    expect(reads.sort()).toEqual(['acts/a1', 'segs/s1']);
    expect((signed[2]!.spec as { sig: { p?: unknown } }).sig.p).toEqual(expect.any(String));
    const { ct, cb } = writeBack(signed);
    expect(ct.counts).toEqual({ badSignature: 0, wrongAuthor: 0, removedAuthor: 0 });
    expect(cb.getFacts('s1.2')!.dones[0]!.result).toBe(2);
    // Without the batch bytes the entries go back unsigned, and other replicas refuse them.
    const lost = bb.signedRecords(removed, () => undefined);
    expect((lost[0]!.spec as { sig?: unknown }).sig).toBeUndefined();
    const other = writeBack(lost);
    expect(other.cb.getSpec('s1.0')).toBeUndefined();
    expect(other.ct.counts.badSignature).toBeGreaterThan(0);
    // Bytes of a different batch under the key do not sign the record's entries.
    const wrong = writeBack(bb.signedRecords(removed, (k) => (k === 'segs/s1' ? sheets.get('acts/a1') : sheets.get(k))));
    expect(wrong.cb.getSpec('s1.0')).toBeUndefined();
  });

  it('a version 3 batch is checked by one hash of its body; a replica that splits it checks its root signature first', () => {
    const { a, ba, bb, tb } = pair();
    ba.putTaskBatch('s1', batch('s1', 4));
    const raw = a.getMap(ROOT.segs).get('s1') as Uint8Array;
    expect(raw[0]).toBe(3);
    const decoded = decodeTaskBatch('s1', raw);
    expect(decoded.ok && decoded.value.bodySig?.length).toBe(64);
    expect(bb.getSpec('s1.3')).toBeDefined();
    // A changed byte of the body signature, or of the body: refused.
    for (const at of [1 + 64 + 5, raw.length - 3]) {
      const bad = raw.slice();
      bad[at]! ^= 1;
      const d = new Y.Doc();
      const t = trustOf('p2');
      const b = new TaskBoard(d, { now: () => 1, trust: t });
      d.getMap(ROOT.segs).set('s1', bad);
      expect(b.getSpec('s1.0')).toBeUndefined();
      expect(t.counts.badSignature + t.counts.wrongAuthor).toBeGreaterThanOrEqual(1);
    }
    // The receiver (which never built the batch's leaves to check it) splits it in a generation
    // copy: the split entries verify under p1 on a third replica.
    const readSplit = (from: TaskBoard, drop: string) => {
      const next = new Y.Doc();
      from.copyInto(new TaskBoard(next, { now: () => 1, trust: trustOf('p2') }), new Set([drop]));
      const reader = new Y.Doc();
      const rt = trustOf('p3');
      const rb = new TaskBoard(reader, { now: () => 1, trust: rt });
      Y.applyUpdate(reader, Y.encodeStateAsUpdate(next));
      return { rb, rt };
    };
    const ok = readSplit(bb, 's1.3');
    expect(ok.rt.counts).toEqual({ badSignature: 0, wrongAuthor: 0, removedAuthor: 0 });
    expect(ok.rb.getSpec('s1.0')).toBeDefined();
    // p1's batch with a sound body signature but a wrong root signature: taken whole, but split
    // entries carry no signature (counted here as the root failing), and others refuse them.
    const encoded = encodeTaskBatch('s2', batch('s2', 3));
    const p1 = trustOf('p1');
    const wrongRoot = new Uint8Array(64).fill(7);
    a.getMap(ROOT.segs).set('s2', withSignatures(encoded, wrongRoot, p1.signBatchBody('segs', 's2', encoded.subarray(1))));
    expect(bb.getSpec('s2.0')).toBeDefined();
    expect(tb.counts.badSignature).toBe(0);
    const split = readSplit(bb, 's2.2');
    expect(tb.counts.badSignature).toBe(1);
    expect(split.rb.getSpec('s2.0')).toBeUndefined();
    expect(split.rb.getSpec('s1.0')).toBeDefined();
    // A version 2 batch (written before version 3, read back from disk) still checks by its root.
    const old = encodeTaskBatch('s3', batch('s3', 3));
    const { sig } = p1.signBatchLevels('segs', 's3', taskBatchLeaves(scheme, { ...batch('s3', 3), createdBy: 'p1' }));
    a.getMap(ROOT.segs).set('s3', withSignature(old, sig));
    expect(bb.getSpec('s3.2')).toBeDefined();
    expect(tb.counts.badSignature).toBe(1);
  });

  it('a removed author counts only for the entries its removal keeps', () => {
    const t = trustOf('p2');
    const p1 = trustOf('p1');
    const early = p1.signed(ROOT.facts, 'x/bid/1/p1', { peer: 'p1', round: 1, score: 1, load: 0, capacity: 1, at: 1 });
    expect(t.checkEntry(ROOT.facts, 'x/bid/1/p1', early, 'p1')).toBe(true);
    const keep = new Set(t.acceptedTags('p1'));
    expect(keep.size).toBe(1);
    t.setRemovals(new Map([['p1', keep]]));
    expect(t.checkEntry(ROOT.facts, 'x/bid/1/p1', early, 'p1')).toBe(true);
    const late = p1.signed(ROOT.facts, 'y/bid/1/p1', { peer: 'p1', round: 1, score: 1, load: 0, capacity: 1, at: 2 });
    expect(t.checkEntry(ROOT.facts, 'y/bid/1/p1', late, 'p1')).toBe(false);
    expect(t.counts.removedAuthor).toBe(1);
  });

  it('facts written together are signed once; a reader checks one signature for all of them and refuses a changed one', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    const updates: Uint8Array[] = [];
    a.on('update', (u: Uint8Array) => updates.push(u));
    let checks = 0;
    const counting: SignatureScheme = { sha256: scheme.sha256, verify: (pk, m, s) => (checks++, scheme.verify(pk, m, s)) };
    const ba = new TaskBoard(a, { now: () => 100, trust: new EntryTrust({ scheme, signer: keys.get('p1')!, keyOf }) });
    const events: DistrustEvent[] = [];
    const bb = new TaskBoard(b, { now: () => 200, trust: new EntryTrust({ scheme: counting, signer: keys.get('p2')!, keyOf, onDistrust: (e) => events.push(e) }) });
    ba.putTask(spec('t1'));
    ba.putTask(spec('t2'));
    for (const u of updates.splice(0)) Y.applyUpdate(b, u, 'remote');
    checks = 0;
    const written = ba.transactSigned(() => [
      ba.putBid('t1', { peer: 'p1', round: 1, score: 1, load: 0, capacity: 10, at: 5 }),
      ba.putBid('t1', { peer: 'p1', round: 1, score: 2, load: 0, capacity: 10, at: 6 }), // the same key again: refused, as outside
      ba.putClaim('t1', { peer: 'p1', round: 1, score: 1, at: 7 }),
      ba.putExpiry('t2', { round: 1, by: 'p1', at: 8 }),
    ]);
    expect(written).toEqual([true, false, true, true]);
    expect(updates.length).toBe(1); // one transaction
    const facts = a.getMap(ROOT.facts);
    const sigs = ['t1/bid/1/p1', 't1/claim/1/p1', 't2/expire/1'].map((k) => (facts.get(k) as { sig: { k: string; s: string; n: number } }).sig);
    expect(sigs.every((s) => typeof s === 'object' && s.n === 3 && s.s === sigs[0]!.s && s.k === sigs[0]!.k)).toBe(true);
    Y.applyUpdate(b, updates[0]!, 'remote');
    expect(checks).toBe(1);
    expect(events).toEqual([]);
    expect(bb.getFacts('t1')!.bids.map((x) => x.score)).toEqual([1]);
    expect(bb.getFacts('t1')!.claims.length).toBe(1);
    expect(bb.getFacts('t2')!.expiries.length).toBe(1);

    // A member changing a fact it did not write (keeping the carried signature) is refused.
    const c = new Y.Doc();
    Y.applyUpdate(c, Y.encodeStateAsUpdate(a));
    const forged = { ...(c.getMap(ROOT.facts).get('t2/expire/1') as Record<string, unknown>), at: 9 };
    c.getMap(ROOT.facts).set('t2/expire/1', forged);
    const d = new Y.Doc();
    const dEvents: DistrustEvent[] = [];
    const bd = new TaskBoard(d, { now: () => 300, trust: trustOf('p3', dEvents) });
    Y.applyUpdate(d, Y.encodeStateAsUpdate(c), 'remote');
    expect(bd.getFacts('t2')!.expiries.length).toBe(0);
    expect(bd.getFacts('t1')!.claims.length).toBe(1);
    expect(dEvents.map((e) => e.reason)).toEqual(['badSignature']);
  });

  it('a lone fact written together keeps its direct signature', () => {
    const { ba, bb, a } = pair();
    ba.putTask(spec('t1'));
    ba.transactSigned(() => ba.putClaim('t1', { peer: 'p1', round: 1, score: 1, at: 7 }));
    expect(typeof (a.getMap(ROOT.facts).get('t1/claim/1/p1') as { sig?: unknown }).sig).toBe('string');
    expect(bb.getFacts('t1')!.claims.length).toBe(1);
  });

  it('reads the Ed25519 key a libp2p peer id embeds', () => {
    // 12D3KooW... ids are base58 of 0x00 0x24 0x08 0x01 0x12 0x20 + the 32-byte key.
    expect(ed25519KeyOfPeerId('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')?.length).toBe(32);
    expect(ed25519KeyOfPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N')).toBeUndefined();
    expect(ed25519KeyOfPeerId('p1')).toBeUndefined();
  });
});
