// The conformance suite every `Transport` must pass (in the spirit of automerge-repo's adapter test
// suites): what the interface in transport.ts promises and what SyncEngine relies on. This module
// runs the checks and returns their failures as data, with no test framework, so a test can also
// show that a broken transport fails them; transport-contract-vitest.ts registers them as tests.
// The checks themselves are in transport-checks.ts.

import type { Transport, TransportHandlers } from '../transport.js';

/** Two or three connected transports built by a test for one check, and how to drive them. */
export interface TransportFixture {
  /** Two or three transports, each already listing every other one in connectedPeers(). */
  readonly transports: readonly Transport[];
  /** Lets `ms` of the transports' time pass: real time, or virtual time in the simulator. */
  sleep(ms: number): Promise<void>;
  /**
   * Brings up one more transport that connects to all the others, and installs the handlers
   * `handlersFor(t)` before it can see any event. Resolves once it exists (it may still be connecting).
   */
  join(handlersFor: (t: Transport) => TransportHandlers): Promise<Transport>;
  /** Takes a peer away as a stopping peer would; when absent, its close() is used. */
  leave?(t: Transport): Promise<void> | void;
  /** Stops everything the fixture (and join) started. */
  teardown(): Promise<void> | void;
}

export type TransportSetup = () => Promise<TransportFixture>;

export interface TransportContractOptions {
  /** The implementation promises send order from one sender to one receiver (when nothing fails). */
  ordered: boolean;
  /** How long (in fixture time) to wait for what should happen. Default 5000 ms. */
  timeoutMs?: number;
  /** How long (in fixture time) to watch for what should not happen. Default 300 ms. */
  quietMs?: number;
  /** Size of the large message. Default 1 MiB. */
  largeBytes?: number;
  /** Checks this implementation is known to fail, by check id, each with the reason. */
  knownGaps?: Readonly<Record<string, string>>;
}

export interface ContractResult {
  id: string;
  title: string;
  status: 'passed' | 'failed' | 'skipped';
  failures: string[];
  /** Why a check was skipped (e.g. the transport has no broadcast). */
  note?: string;
}

export interface ContractCheck {
  id: string;
  title: string;
  run(ctx: CheckContext): Promise<void>;
}

export interface Received {
  from: string;
  data: Uint8Array;
}

export interface PeerEvent {
  kind: 'connect' | 'disconnect';
  peer: string;
  /** Whether the owner's connectedPeers() listed the peer when the handler ran. */
  listed: boolean | undefined;
}

/**
 * Handlers that record everything (messages are kept as given, not copied, so a transport that
 * hands out a buffer someone changes later is caught), with optional reactions to events.
 */
export class Recorder implements TransportHandlers {
  readonly messages: Received[] = [];
  readonly events: PeerEvent[] = [];

  constructor(
    private readonly owner: () => Transport | undefined,
    private readonly on: { connect?: (peer: string) => void } = {},
  ) {}

  readonly message = (from: string, data: Uint8Array): void => {
    this.messages.push({ from, data });
  };
  readonly connect = (peer: string): void => {
    this.events.push({ kind: 'connect', peer, listed: this.owner()?.connectedPeers().includes(peer) });
    this.on.connect?.(peer);
  };
  readonly disconnect = (peer: string): void => {
    this.events.push({ kind: 'disconnect', peer, listed: this.owner()?.connectedPeers().includes(peer) });
  };

  /** The bytes received from `peer`, in arrival order. */
  from(peer: string): Uint8Array[] {
    return this.messages.filter((m) => m.from === peer).map((m) => m.data);
  }

  eventsFor(peer: string, kind?: PeerEvent['kind']): PeerEvent[] {
    return this.events.filter((e) => e.peer === peer && (kind === undefined || e.kind === kind));
  }
}

class Skip extends Error {}
class Abort extends Error {}

/** What a check gets: the fixture, and ways to record failures and wait in fixture time. */
export class CheckContext {
  readonly failures: string[] = [];
  readonly timeoutMs: number;
  readonly quietMs: number;
  readonly largeBytes: number;
  readonly ordered: boolean;

  constructor(
    readonly fx: TransportFixture,
    opts: TransportContractOptions,
  ) {
    this.ordered = opts.ordered;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.quietMs = opts.quietMs ?? 300;
    this.largeBytes = opts.largeBytes ?? 1024 * 1024;
  }

  fail(msg: string): void {
    this.failures.push(msg);
  }

  /** Records `msg` as a failure unless `cond`; returns `cond`. */
  expect(cond: boolean, msg: string): boolean {
    if (!cond) this.fail(msg);
    return cond;
  }

  /** Ends the check here (after a failure that makes the rest meaningless). */
  abort(msg: string): never {
    this.fail(msg);
    throw new Abort(msg);
  }

  skip(note: string): never {
    throw new Skip(note);
  }

  /** Polls `cond` in fixture time; records a failure and returns false when it never holds. */
  async waitFor(cond: () => boolean, what: string, ms = this.timeoutMs): Promise<boolean> {
    let waited = 0;
    while (!cond()) {
      if (waited >= ms) {
        this.fail(`timed out after ${ms} ms waiting for ${what}`);
        return false;
      }
      await this.fx.sleep(5);
      waited += 5;
    }
    return true;
  }

  /** Lets quietMs pass, for checks that something does NOT happen. */
  quiet(): Promise<void> {
    return this.fx.sleep(this.quietMs);
  }

  /** Installs fresh recording handlers on `t`. */
  record(t: Transport, on: { connect?: (peer: string) => void } = {}): Recorder {
    const r = new Recorder(() => t, on);
    t.setHandlers(r);
    return r;
  }

  /** Whether a transport call threw; records the failure. */
  noThrow(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      this.fail(`${what} threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Runs one check on a fresh fixture and always tears the fixture down. */
export async function runContractCheck(check: ContractCheck, setup: TransportSetup, opts: TransportContractOptions): Promise<ContractResult> {
  const result: ContractResult = { id: check.id, title: check.title, status: 'passed', failures: [] };
  let fx: TransportFixture;
  try {
    fx = await setup();
  } catch (e) {
    return { ...result, status: 'failed', failures: [`setup failed: ${e instanceof Error ? e.message : String(e)}`] };
  }
  const ctx = new CheckContext(fx, opts);
  try {
    await check.run(ctx);
  } catch (e) {
    if (e instanceof Skip) {
      result.status = 'skipped';
      result.note = e.message;
    } else if (!(e instanceof Abort)) {
      ctx.fail(`the check threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  } finally {
    try {
      await fx.teardown();
    } catch (e) {
      ctx.fail(`teardown failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  result.failures = ctx.failures;
  if (result.failures.length > 0) result.status = 'failed';
  return result;
}

/** Bytes of a given size whose content depends on `seed`, so two payloads rarely look alike. */
export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + seed * 17 + (i >>> 8) * 7) & 0xff;
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every sent payload has a byte-equal received one (as a multiset: each received one used once). */
export function allArrived(received: readonly Uint8Array[], sent: readonly Uint8Array[]): boolean {
  const left = [...received];
  for (const s of sent) {
    const i = left.findIndex((r) => sameBytes(r, s));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}

/**
 * Compares what arrived from one sender with what it sent: in order and exactly when the transport
 * promises order, else as a multiset where every sent payload arrived and nothing arrived that was
 * not sent (duplicates are allowed by the interface). Returns a description of the difference.
 */
export function deliveryProblem(received: readonly Uint8Array[], sent: readonly Uint8Array[], ordered: boolean): string | undefined {
  const desc = (m: Uint8Array) => `${m.byteLength} bytes`;
  if (ordered) {
    if (received.length !== sent.length) return `${received.length} messages arrived, ${sent.length} were sent`;
    const i = sent.findIndex((s, k) => !sameBytes(received[k]!, s));
    return i < 0 ? undefined : `message ${i} (${desc(sent[i]!)}) arrived as ${desc(received[i]!)} with different bytes, or out of order`;
  }
  const missing = sent.filter((s) => !received.some((r) => sameBytes(r, s)));
  if (missing.length > 0) return `${missing.length} of ${sent.length} messages did not arrive intact (e.g. one of ${desc(missing[0]!)})`;
  const stray = received.filter((r) => !sent.some((s) => sameBytes(r, s)));
  if (stray.length > 0) return `${stray.length} messages arrived that were never sent (corrupted?), e.g. ${desc(stray[0]!)}`;
  return undefined;
}
