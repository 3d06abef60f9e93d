// What `status` reports: every task this peer knows by state (the live document's, as the main
// loop last derived them and counted as they changed, plus the archived ones, each counted once),
// duplicate runs (archived tasks' too), the peers with their load and liveness, the archive's
// counts and the live generation.

import { isTerminal, type TaskState } from '@agentmesh/scheduler';
import * as Y from 'yjs';
import { encodeGeneration, type Archive, type ArchiveCounts, type EntryTrust, type Generation } from '@agentmesh/crdt-store';
import { trustStatus, type TrustStatus } from './trust.js';
import type { LiveDocument } from './live-document.js';
import type { PeerContext } from './context.js';
import type { Liveness } from './liveness.js';
import type { DeriveMemo, Views } from './views.js';

export interface StatusPeer {
  name: string;
  peerId: string;
  capacity: number;
  load: number;
  alive: boolean;
}

export interface PeerStatus {
  peers: StatusPeer[];
  /** Every task this peer knows, by state: the live document's and the archived ones (each once). */
  tasks: Record<TaskState, number>;
  duplicateRuns: number;
  /** Finished tasks in this peer's archive (no longer in the live document). */
  archived: ArchiveCounts;
  /** The live document's generation. */
  generation: { n: number; name: string };
  /** Signed entries: whether this peer signs and checks them, and the entries it refused. */
  trust: TrustStatus;
}

export interface StatusSources {
  ctx: PeerContext;
  views: Views;
  archive: Archive;
  liveness: Liveness;
  /** Tasks the main loop has not looked at since they changed. */
  dirty(): Iterable<string>;
  /** This peer's own load (runs and reservations). */
  load: number;
  generation: Generation;
  trust: EntryTrust | undefined;
}

export function peerStatus(s: StatusSources): PeerStatus {
  const { ctx, views, archive } = s;
  const board = ctx.board();
  const now = ctx.clock.now();
  // States as the main loop last derived them, counted as they changed, so a status call costs
  // the tasks changed since its last pass, not the board: those are derived now.
  const { tasks, duplicateRuns: liveDups } = views.counts();
  let duplicateRuns = liveDups;
  const memo: DeriveMemo = new Map();
  const derivedNow = new Map<string, TaskState>();
  for (const id of s.dirty()) {
    const f = board.getFacts(id);
    const last = views.lastStateOf(id);
    if (last !== undefined) {
      tasks[last]--;
      duplicateRuns -= views.duplicatesOf(id);
    }
    // Gone from the board (the next pass forgets it): not counted.
    if (!f) continue;
    const v = views.derive(id, f, now, memo);
    tasks[v.state]++;
    duplicateRuns += v.duplicates.length;
    derivedNow.set(id, v.state);
  }
  // A finished task both in the live document and in the archive is counted once: the ones the
  // views know of, and any that finished since the last pass.
  let overlap: ArchiveCounts | undefined;
  let overlapDups = 0;
  const both = new Set(views.alsoArchived());
  for (const [id, st] of derivedNow) if (isTerminal(st) && archive.mightHave(id)) both.add(id);
  for (const id of both) {
    const state = derivedNow.get(id) ?? views.lastStateOf(id);
    if (state === undefined || !isTerminal(state)) continue;
    const rec = archive.counted ? archive.counted(id) : archive.summary ? archive.summary(id) : archive.get(id);
    if (!rec) continue;
    overlap ??= { done: 0, dead: 0, cancelled: 0, total: 0 };
    overlap[rec.state]++;
    overlapDups += (rec as { duplicates?: number }).duplicates ?? 0;
  }
  const archived = archive.counts();
  for (const st of ['done', 'dead', 'cancelled'] as const) tasks[st] += Math.max(0, archived[st] - (overlap?.[st] ?? 0));
  // Duplicate runs of archived tasks count too (the archive keeps them), each task once.
  duplicateRuns += Math.max(0, (archive.duplicateRuns?.() ?? 0) - overlapDups);
  const peers = board.peers().map((p) => ({
    name: p.name,
    peerId: p.id,
    capacity: p.capacity,
    load: p.id === ctx.id ? s.load : (s.liveness.loadOf(p.id) ?? 0),
    alive: s.liveness.isAlive(p.id, now),
  }));
  peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { peers, tasks, duplicateRuns, archived, generation: { n: s.generation.n, name: encodeGeneration(s.generation) }, trust: trustStatus(s.trust) };
}

/** What the live document holds and weighs (for diagnostics; `bytes` costs one full encoding). */
export interface DocStats {
  bytes: number;
  tasks: number;
  data: number;
  generation: { n: number; name: string };
  archived: ArchiveCounts;
  archiveBytes: number;
}

export function documentStats(live: LiveDocument, archive: Archive): DocStats {
  const board = live.board;
  const g = live.generation;
  return {
    bytes: Y.encodeStateAsUpdate(live.doc).byteLength,
    tasks: board.taskCount,
    data: board.dataCount,
    generation: { n: g.n, name: encodeGeneration(g) },
    archived: archive.counts(),
    archiveBytes: archive.bytes(),
  };
}
