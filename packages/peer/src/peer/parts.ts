// Builds the parts of a peer and wires them to each other (constructor injection, no part reaches
// into another's fields). The Peer (peer.ts) owns the result; this file is only the wiring, so
// the dependency graph between parts is visible in one place.

import type * as Y from 'yjs';
import type { ObjectiveWeights, Rng, StrategyName } from '@agentmesh/scheduler';
import type { Archive, Storage, TaskBoard } from '@agentmesh/crdt-store';
import type { AgentDefinition } from '../agents.js';
import type { SyncEngine } from '../sync/engine.js';
import { ActivityWriter } from './activity.js';
import { Archiver } from './archiver.js';
import { Assigned } from './assigned.js';
import { Bidding } from './bidding.js';
import type { PeerContext } from './context.js';
import { Durability } from './durability.js';
import { Generations } from './generations.js';
import type { LiveDocument } from './live-document.js';
import { Liveness } from './liveness.js';
import { Presence } from './presence.js';
import { ClaimGate } from './claim-gate.js';
import { MainLoop } from './main-loop.js';
import { Quorum } from './quorum.js';
import type { RolloverPolicy } from './rollover.js';
import { Runs } from './runs.js';
import { Submitter } from './submit.js';
import { Views } from './views.js';

export interface PartsInit {
  ctx: PeerContext;
  live: LiveDocument;
  sync: SyncEngine;
  storage: Storage;
  archive: Archive;
  rollover: RolloverPolicy;
  agents: ReadonlyMap<string, AgentDefinition>;
  rng: Rng;
  defaultStrategy: StrategyName;
  shortlist: number;
  weights: ObjectiveWeights;
  newDocument(): { doc: Y.Doc; board: TaskBoard };
}

export interface Parts {
  durability: Durability;
  presence: Presence;
  liveness: Liveness;
  views: Views;
  runs: Runs;
  bidding: Bidding;
  assigned: Assigned;
  submitter: Submitter;
  quorum: Quorum;
  generations: Generations;
  archiver: Archiver;
  loop: MainLoop;
  /** A task left the live document: every part forgets it. */
  forget(id: string): void;
}

export function assembleParts(init: PartsInit): Parts {
  const { ctx, live, sync, archive, rollover } = init;
  // Late-bound: parts built later are reached through these closures only after construction.
  let p: Parts;
  const durability = new Durability(ctx, init.storage, live, () => p.archiver.settled());
  const presence = new Presence(ctx, sync, () => ({
    load: p.bidding.load() + p.assigned.queued,
    running: p.runs.count,
    done: ctx.counters.done,
    dataWrites: ctx.counters.dataWrites,
    ...(({ generation, sv }) => ({ generation, durableSV: sv }))(durability.durable),
  }));
  const liveness = new Liveness(ctx, sync, presence);
  const views = new Views(ctx, archive, (peer) => liveness.lastSeen(peer));
  const activity = new ActivityWriter(ctx);
  const gate = new ClaimGate(ctx, live, liveness, presence, () => sync.connectedPeers());
  const runs = new Runs(ctx, { agents: init.agents, views, archive, liveness, activity, writeSeq: () => durability.lastWriteSeq, gate });
  presence.onHeld = () => {
    if (runs.waitingAtGate > 0) ctx.processSoon();
  };
  const bidding = new Bidding(ctx, { runs, views, liveness, sync, k: init.shortlist, weights: init.weights });
  const assigned = new Assigned(ctx, runs, bidding, views);
  const submitter = new Submitter({ ctx, liveness, rng: init.rng, defaultStrategy: init.defaultStrategy, selfRoom: () => bidding.freeSlots() - assigned.queued });
  const quorum = new Quorum(ctx, liveness, runs, bidding);
  const forget = (id: string) => {
    p.loop.forget(id);
    bidding.poolDelete(id);
    views.forget(id);
    bidding.release(id);
  };
  const generations = new Generations(ctx, {
    live,
    durability,
    sync,
    views,
    runs,
    liveness,
    archive,
    rollover,
    archiveBehind: () => p.archiver.behind(),
    takeUnwritten: () => p.archiver.takeUnwritten(),
    newDocument: init.newDocument,
    caughtUp: () => p.loop.isCaughtUp(),
    tombstones: () => p.archiver.tombstones,
    entered: () => p.archiver.newGeneration(),
    forget,
    markDirty: (id) => p.loop.markDirty(id),
  });
  const archiver = new Archiver(ctx, {
    live,
    views,
    archive,
    liveness,
    presence,
    rollover,
    running: () => runs.ids(),
    writing: (id) => runs.outcomePending(id),
    caughtUp: () => p.loop.isCaughtUp(),
    startedAt: () => p.loop.startTime,
    docBytes: () => generations.bytes,
    forget,
  });
  const loop = new MainLoop(ctx, { archiver, assigned, views, runs, bidding, quorum, generations, durability, liveness, presence, sync });
  p = { durability, presence, liveness, views, runs, bidding, assigned, submitter, quorum, generations, archiver, loop, forget };
  return p;
}
