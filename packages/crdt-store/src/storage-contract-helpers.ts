// Shared by the Storage contract's checks (storage-contract.ts, storage-contract-waits.ts): what a
// check is given and returns, and the small helpers they build documents and assertions with.

import * as Y from 'yjs';
import type { LoadedState, Storage, StorageStats } from './storage.js';

export interface ContractFailure {
  check: string;
  message: string;
}

/** What a check gets: its storage, a reopen that is tracked (closed at the end), and assertions. */
export interface CheckContext {
  readonly storage: Storage;
  reopen(): Promise<Storage>;
  /** The harness's damageLog, when it has one. */
  damageLog?: (pick: (size: number) => number) => Promise<void>;
  /** Records a failure unless `cond` holds; returns `cond`. */
  ok(cond: boolean, message: string): boolean;
  /** Records a failure unless both lists hold the same bytes in the same order. */
  sameUpdates(actual: readonly Uint8Array[], expected: readonly Uint8Array[], what: string): void;
  /** Records a failure unless `fn` throws (synchronously) an error with `code`. */
  throwsCode(fn: () => unknown, code: string, what: string): void;
  /** Records a failure unless `fn` returns a promise that rejects with an error with `code` (no synchronous throw). */
  rejectsCode(fn: () => Promise<unknown>, code: string, what: string): Promise<void>;
}

export interface StorageCheck {
  name: string;
  run(c: CheckContext): Promise<void>;
}

export const codeOf = (e: unknown): unknown => (e as { code?: unknown } | null)?.code;

export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Deterministic bytes of a given length (no Math.random: failures must reproduce). */
export function bytes(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const SIZES = [1, 2, 255, 4096, 70_000];

/** A Y.Doc whose every update is appended to the storage `target()` returns. */
export function loggedDoc(target: () => Storage): { doc: Y.Doc; logged: Uint8Array[] } {
  const doc = new Y.Doc();
  const logged: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => {
    logged.push(u);
    target().append(u);
  });
  return { doc, logged };
}

export function rebuild(state: LoadedState): unknown[] {
  const doc = new Y.Doc();
  if (state.snapshot) Y.applyUpdate(doc, state.snapshot);
  for (const u of state.updates) Y.applyUpdate(doc, u);
  return doc.getArray('a').toArray();
}

export function push(doc: Y.Doc, from: number, to: number): void {
  for (let i = from; i < to; i++) doc.getArray<number>('a').push([i]);
}

/** Records a failure unless snapshot + updates of `state` rebuild `doc`'s array (see `push`). */
export function rebuildsDoc(c: CheckContext, state: LoadedState, doc: Y.Doc): void {
  c.ok(JSON.stringify(rebuild(state)) === JSON.stringify(doc.getArray('a').toArray()), 'snapshot + updates do not rebuild the document');
}

export function expectEmpty(c: CheckContext, state: LoadedState, what: string): void {
  c.ok(state.snapshot === null, `${what}: snapshot should be null`);
  c.ok(state.updates.length === 0, `${what}: expected no updates, got ${state.updates.length}`);
  c.ok(state.warnings.length === 0, `${what}: expected no warnings, got ${JSON.stringify(state.warnings)}`);
}

export function statsSay(c: CheckContext, s: StorageStats, want: Partial<StorageStats>, what: string): void {
  for (const [k, v] of Object.entries(want)) {
    c.ok(s[k as keyof StorageStats] === v, `${what}: stats().${k} is ${s[k as keyof StorageStats]}, expected ${v}`);
  }
}

/** True when `got` is `want` with at most `missing` updates left out, in order, each byte for byte. */
export function keptInOrder(got: readonly Uint8Array[], want: readonly Uint8Array[], missing: number): boolean {
  if (got.length < want.length - missing || got.length > want.length) return false;
  let i = 0;
  for (const w of want) if (i < got.length && sameBytes(got[i]!, w)) i++;
  return i === got.length;
}

/**
 * A flushed update survives a restart even if another one is damaged: one changed byte of the
 * durable log costs at most the update it sits in, the others come back in order (none invented),
 * the damage is reported in `warnings`, and the repair lasts (the next restart is clean).
 */
