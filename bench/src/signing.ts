// Why: signed entries (docs/security.md) must keep the cost per task small, and the report should
// say what they cost next to the throughput. This measures, in one process, the real code paths:
// a peer writing a task batch and an activity batch (claims and results) signs each once over the
// Merkle root of its leaves, and every other peer verifies each once. It prints sign + verify µs per
// batch and per task. Run alone: `node --import ../scripts/polyfills.mjs dist/signing.js [tasks]`.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { EntryTrust, ROOT, decodeActivity, decodeTaskBatch, encodeActivity, encodeTaskBatch, activityLeaves, taskBatchLeaves, type ActivityBatch, type TaskBatch } from '@agentmesh/crdt-store';
import { ed25519Signer, nodeSignatureScheme } from '@agentmesh/peer/node';

export interface SigningResult {
  /** Tasks per batch measured. */
  batchTasks: number;
  /** One task batch plus its activity batches (a claim and a result per task): sign, µs. */
  signBatchUs: number;
  /** The same two batches: decode + verify on a receiving peer, µs. */
  verifyBatchUs: number;
  /** (sign + verify) / tasks, µs: what one task costs its writer and one reader. */
  perTaskUs: number;
  /** A single JSON entry (a bid, say): sign and verify, µs. */
  singleEntryUs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function measureSigning(batchTasks = 64, rounds = 30): SigningResult {
  const author = 'bench-peer';
  const signer = ed25519Signer(author, new Uint8Array(randomBytes(32)));
  const keyOf = (a: string) => (a === author ? signer.publicKey : undefined);
  const writer = new EntryTrust({ scheme: nodeSignatureScheme, signer, keyOf });
  const reader = new EntryTrust({ scheme: nodeSignatureScheme, keyOf });
  const key = 'bbench-1';
  const tasks: TaskBatch = {
    createdBy: author,
    createdAt: 1_764_000_000_000,
    tasks: Array.from({ length: batchTasks }, (_, i) => ({
      spec: { id: `${key}.${i}`, type: 'noop', payload: { i }, priority: 0, requires: [], prefers: [], dependsOn: [], maxAttempts: 3, timeoutMs: 0, createdAt: 1_764_000_000_000, createdBy: author, notBefore: 0, strategy: 'capacity-weighted' },
      assignee: author,
    })),
  };
  const records = tasks.tasks.flatMap((t, i) => [
    { kind: 'claim' as const, task: t.spec.id, round: 1, at: 1_764_000_000_010 + i, score: 0 },
    { kind: 'done' as const, task: t.spec.id, round: 1, at: 1_764_000_000_020 + i, ms: 1, result: { ok: true } },
  ]);
  // An activity batch holds at most 4096 records: a big task batch's claims and results take several.
  const actList: ActivityBatch[] = [];
  for (let i = 0; i < records.length; i += 4096) actList.push({ peer: author, records: records.slice(i, i + 4096) });
  const segBytes = encodeTaskBatch(key, tasks);
  const actBytes = actList.map((a) => encodeActivity(a));
  const sign: number[] = [];
  const verify: number[] = [];
  const single: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Writer: leaves from its own encoded bytes (as the board does), one signature per batch.
    let t0 = performance.now();
    const seg = decodeTaskBatch(key, segBytes);
    const acts = actBytes.map((b) => decodeActivity(b));
    if (!seg.ok || !acts.every((a) => a.ok)) throw new Error('bench batches do not decode');
    const decoded = acts.map((a) => (a.ok ? a.value : undefined)!);
    const segSig = writer.signBatch(ROOT.segs, key, taskBatchLeaves(nodeSignatureScheme, seg.value));
    const actSigs = decoded.map((a, i) => writer.signBatch(ROOT.acts, `abench-${i}`, activityLeaves(nodeSignatureScheme, a)));
    sign.push(performance.now() - t0);
    // Reader: it decodes anyway; the extra is the leaves, the root and one verify per batch.
    t0 = performance.now();
    let ok = reader.checkBatch(ROOT.segs, key, taskBatchLeaves(nodeSignatureScheme, seg.value), segSig, author);
    decoded.forEach((a, i) => (ok = reader.checkBatch(ROOT.acts, `abench-${i}`, activityLeaves(nodeSignatureScheme, a), actSigs[i], author) && ok));
    verify.push(performance.now() - t0);
    if (!ok) throw new Error('bench signatures do not verify');
    t0 = performance.now();
    const bid = writer.signed(ROOT.facts, `t${r}/bid/1/${author}`, { peer: author, round: 1, score: 0.5, load: 1, capacity: 10, at: 1_764_000_000_000 + r });
    if (!reader.checkEntry(ROOT.facts, `t${r}/bid/1/${author}`, bid, author)) throw new Error('bench entry does not verify');
    single.push(performance.now() - t0);
  }
  const s = median(sign) * 1000;
  const v = median(verify) * 1000;
  return { batchTasks, signBatchUs: Math.round(s), verifyBatchUs: Math.round(v), perTaskUs: Math.round(((s + v) / batchTasks) * 100) / 100, singleEntryUs: Math.round(median(single) * 1000) };
}

/** One line for the report, next to the throughput. */
export function signingLine(r: SigningResult): string {
  return `signing cost: ${r.signBatchUs} µs sign + ${r.verifyBatchUs} µs verify per batch of ${r.batchTasks} tasks (task batch + claims and results) = ${r.perTaskUs} µs per task (writer + one reader); a single signed entry ${r.singleEntryUs} µs`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const n of process.argv.slice(2).length ? process.argv.slice(2).map(Number) : [16, 64, 4096]) console.log(signingLine(measureSigning(n, n >= 1024 ? 5 : 30)));
}
