// The websocket endpoint's options, its returned handle and its constants, and the checks that
// turn options into a resolved configuration before anything listens (a bad option is a MeshError
// INVALID_ARGUMENT, and listening beyond loopback without a token is refused here).

import type * as http from 'node:http';
import { isIP } from 'node:net';
import * as Y from 'yjs';
import { MeshError, resolveLogger, silentLogger } from '@agentmesh/scheduler';
import type { Logger } from '../logger.js';
import { isLoopbackHost } from './access.js';
import { LiveDocument } from '../peer/live-document.js';

export const DEFAULT_WS_ROOM = 'agentmesh';
export const DEFAULT_WS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** How long the websocket replica outlives its last client by default, ms. */
export const DEFAULT_WS_REPLICA_GRACE_MS = 2000;
/** Close code sent to websocket clients when the peer moved to a new document generation. */
export const WS_CLOSE_GENERATION = 4000;
/**
 * Close code sent to a websocket client that tried to change the document (websocket clients are
 * readers, not members: docs/security.md). Submit, cancel and retry go through the HTTP API.
 */
export const WS_CLOSE_READ_ONLY = 4001;

const TOKEN_REQUIRED = 'a --ws-token is required when the websocket endpoint listens beyond loopback';
const ROOM_RE = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/;

export interface WsEndpointOptions {
  /**
   * The document served: a Y.Doc, or a peer's LiveDocument, whose replacement at a generation
   * change the endpoint follows by itself (every client is closed with 4000 and reconnects).
   */
  doc: Y.Doc | LiveDocument;
  /** Default 127.0.0.1. Anything beyond loopback needs `token`. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default 'agentmesh'. Letters, digits, `._~-`, segments separated by `/`. */
  room?: string;
  token?: string;
  /** Default 16 MiB. */
  maxMessageBytes?: number;
  /** Where the endpoint logs (default: nowhere). A logger that throws does not break the endpoint. */
  logger?: Logger;
  /** Called once for every message rejected as invalid. */
  onInvalid?: (reason: string) => void;
  /** Body of GET /status (JSON). Without it /status falls through to httpHandler / 404. */
  status?: () => unknown;
  /** Extra HTTP routes on the same port, asked after /healthz and /status; return true when handled. */
  httpHandler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
  /**
   * Browser origins (e.g. 'http://dashboard.example:8080', or 'null' for file:// pages) allowed when
   * no token is set, besides loopback origins. Ignored with a token: the token is the gate then.
   */
  allowedOrigins?: string[];
  /**
   * True for an update that belongs to an earlier document generation (a client that kept its old
   * document across a generation change): it is refused and the client told to start afresh (4000).
   */
  isStale?: (update: Uint8Array) => boolean;
  /**
   * The endpoint keeps a second copy of the document (the y-websocket server doc) only while a
   * client is connected; after the last one leaves, the copy lives on this long (ms) so that a
   * reconnect is cheap. Default 2000; 0 drops it at once.
   */
  replicaGraceMs?: number;
}

export interface WsEndpoint {
  /** ws://host:port/room (a connectable host when bound to a wildcard address). */
  url: string;
  /** ws://host:port: what y-websocket's WebsocketProvider takes, with `room` as its room name. */
  serverUrl: string;
  room: string;
  port: number;
  host: string;
  /** Open websocket connections. */
  connections(): number;
  /**
   * Serves another document from now on (the peer's next generation): every client is closed with
   * code 4000 and must reconnect with a fresh Y.Doc; updates of the old document are refused.
   */
  rebind(doc: Y.Doc): void;
  close(): Promise<void>;
}

/** A room name the endpoint accepts: letters, digits and ._~-, segments split by /, no . or .. segment. */
export function isValidRoom(room: unknown): room is string {
  return typeof room === 'string' && room.length <= 200 && ROOM_RE.test(room) && !room.split('/').some((s) => s === '.' || s === '..');
}

/** True when an endpoint on `host` listens beyond loopback, where a token is mandatory. */
export function needsToken(host: string): boolean {
  return !isLoopbackHost(host);
}

export interface WsConfig {
  host: string;
  port: number;
  room: string;
  /** Largest accepted message, bytes. */
  max: number;
  /** The logger given, or the silent one. */
  logger: Logger;
  /** How long the websocket replica outlives its last client, ms. */
  graceMs: number;
}

/** Checks the options and fills in defaults; throws MeshError INVALID_ARGUMENT. */
export function resolveConfig(opts: WsEndpointOptions): WsConfig {
  if (!(opts.doc instanceof Y.Doc) && !(opts.doc instanceof LiveDocument)) throw new MeshError('INVALID_ARGUMENT', 'doc must be a Y.Doc or a LiveDocument');
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const room = opts.room ?? DEFAULT_WS_ROOM;
  const max = opts.maxMessageBytes ?? DEFAULT_WS_MAX_MESSAGE_BYTES;
  if (typeof host !== 'string' || host.trim() === '') throw new MeshError('INVALID_ARGUMENT', 'host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MeshError('INVALID_ARGUMENT', `port must be an integer in 0..65535, got ${port}`);
  if (!isValidRoom(room)) {
    throw new MeshError('INVALID_ARGUMENT', `room must be made of letters, digits and ._~- (segments split by /), got ${JSON.stringify(room)}`);
  }
  // ws stores maxPayload as a 32-bit integer.
  if (!Number.isInteger(max) || max < 1 || max > 0x7fffffff) throw new MeshError('INVALID_ARGUMENT', `maxMessageBytes must be an integer in 1..2^31-1, got ${max}`);
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token.length === 0)) {
    throw new MeshError('INVALID_ARGUMENT', 'token must be a non-empty string');
  }
  if (opts.token === undefined && needsToken(host)) throw new MeshError('INVALID_ARGUMENT', TOKEN_REQUIRED);
  const logger = resolveLogger(opts, silentLogger);
  const graceMs = opts.replicaGraceMs ?? DEFAULT_WS_REPLICA_GRACE_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0 || graceMs > 2 ** 31 - 1) throw new MeshError('INVALID_ARGUMENT', `replicaGraceMs must be a number in 0..2^31-1, got ${graceMs}`);
  return { host, port, room, max, logger, graceMs };
}

function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || (isIP(h) === 6 && new URL(`http://[${h}]/`).hostname === '[::]');
}

/** ws://host:port for a server bound to `host`: a connectable loopback address for a wildcard bind. */
export function serverUrlOf(host: string, port: number): string {
  const urlHost = isWildcardHost(host) ? (isIP(host.replace(/^\[|\]$/g, '')) === 6 ? '[::1]' : '127.0.0.1') : isIP(host) === 6 ? `[${host}]` : host;
  return `ws://${urlHost}:${port}`;
}
