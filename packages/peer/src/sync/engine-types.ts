// The sync engine's public types: its options, counters and events (engine.ts re-exports them).

import type { Clock } from '../clock.js';

/** Default largest ephemeral message. */
export const DEFAULT_MAX_EPHEMERAL_BYTES = 64 * 1024;

export interface SyncStats {
  sentMessages: number;
  sentBytes: number;
  receivedMessages: number;
  receivedBytes: number;
  rejected: number;
  updatesSent: number;
  /** Gap repairs asked for (step 1 sent because updates were missing). */
  repairs: number;
  /** Pulls sent (step 1: startup, gap repairs, and what anti-entropy found still missing). */
  pulls: number;
  /** Pulls answered from the ring of recent updates, and with a diff of the whole document. */
  answeredFromRecent: number;
  answeredFull: number;
  ephemeralSent: number;
  ephemeralReceived: number;
}

/** Every counter at zero. */
export function emptySyncStats(): SyncStats {
  return { sentMessages: 0, sentBytes: 0, receivedMessages: 0, receivedBytes: 0, rejected: 0, updatesSent: 0, repairs: 0, pulls: 0, answeredFromRecent: 0, answeredFull: 0, ephemeralSent: 0, ephemeralReceived: 0 };
}

export interface SyncOptions {
  clock: Clock;
  /** Window over which local updates are merged into one message; 0 sends on the next timer turn. */
  batchMs: number;
  /** Period of the anti-entropy state-vector exchange. */
  antiEntropyMs: number;
  /** Minimum time between two gap repairs asked of one peer. */
  repairMs: number;
  /** Messages larger than this are rejected unread. */
  maxMessageBytes: number;
  /** Orders two generation names (negative: a before b). Without it, other generations are rejected. */
  compareGenerations?: (a: string, b: string) => number;
  /** Largest ephemeral message sent or accepted (default 64 KiB). */
  maxEphemeralBytes?: number;
}

export type SyncEvents = {
  /** Something a peer sent was rejected (oversized, undecodable, a bad update); it was dropped. */
  invalid: { from: string; reason: string };
  /**
   * A peer on a later generation spoke to us (the peer decides whether to move, and may ask it for
   * that generation's document with `requestBase`).
   */
  laterGeneration: { from: string; name: string };
  /** A peer on a later generation sent its whole document of it (the answer to `requestBase`). */
  base: { from: string; name: string; update: Uint8Array };
  /** Application bytes a peer sent with sendEphemeral (never stored, never applied). */
  ephemeral: { from: string; data: Uint8Array };
  /** A link to a peer came up (after the engine's own greeting went out). */
  connect: { peer: string };
};
