// Why: a replica writes the expiry of another peer's lapsed round only when the holder is silent
// past the lease plus this replica's lag (the median silence of the peers it heard lately): at 30
// peers on two cores every peer was seconds late at every observer, and observers that expired
// holders as late as the rest stalled the rounds that followed for minutes.
import { describe, expect, it } from 'vitest';
import { CONNECTED_SILENCE_LEASES, DEFAULT_LEASE, observerLag } from '@agentmesh/scheduler';
import { Pass } from '../src/peer/pass.js';
import type { Liveness } from '../src/peer/liveness.js';

const NOW = 1_000_000;

/** A Liveness that answers from a table of last sightings (this replica's clock). */
function liveness(lastSeen: Record<string, number | undefined>, connected: readonly string[] = []): Liveness {
  return {
    lastSeen: (p: string) => lastSeen[p],
    linkedPeers: () => new Set(connected),
    leasePolicy: () => DEFAULT_LEASE,
    lag: (now: number) => observerLag(Object.values(lastSeen), now, DEFAULT_LEASE),
  } as unknown as Liveness;
}

const pass = (seen: Record<string, number | undefined>, connected: readonly string[] = []) => new Pass(NOW, false, true, new Set(), liveness(seen, connected));

describe('Pass.mayExpire', () => {
  it('waits past the lease plus the lag when every peer is late at this replica', () => {
    // The others 1.5 s silent (a slow mesh): a holder 3.5 s silent is not overdue, 5 s is.
    const others = { a: NOW - 1_500, b: NOW - 1_500, c: NOW - 1_400, d: NOW - 1_600 };
    expect(pass({ ...others, h: NOW - 3_500 }).mayExpire('h')).toBe(false);
    expect(pass({ ...others, h: NOW - 5_000 }).mayExpire('h')).toBe(true);
  });

  it('ends a lease after the lease alone (plus ~0) in a mesh that keeps up, and for a holder never seen', () => {
    const others = { a: NOW - 100, b: NOW, c: NOW - 50 };
    expect(pass({ ...others, h: NOW - (DEFAULT_LEASE.leaseMs + 200) }).mayExpire('h')).toBe(true);
    expect(pass({ ...others }).mayExpire('never-seen')).toBe(true);
  });

  it('lets a timeout lapse through (the holder heard within the lease)', () => {
    expect(pass({ a: NOW - 1_500, b: NOW - 1_500, c: NOW - 1_500, h: NOW - 200 }).mayExpire('h')).toBe(true);
  });

  it('leaves a silent holder whose link is still up its rounds for CONNECTED_SILENCE_LEASES leases (a stalled loop), not longer', () => {
    const others = { a: NOW - 100, b: NOW, c: NOW - 50 };
    const bound = CONNECTED_SILENCE_LEASES * DEFAULT_LEASE.leaseMs;
    expect(pass({ ...others, h: NOW - 5_000 }, ['h']).mayExpire('h')).toBe(false);
    expect(pass({ ...others, h: NOW - 5_000 }, ['a']).mayExpire('h')).toBe(true);
    expect(pass({ ...others, h: NOW - bound - 1 }, ['h']).mayExpire('h')).toBe(true);
    // A timeout lapse (holder heard within the lease) goes through whether connected or not.
    expect(pass({ ...others, h: NOW - 200 }, ['h']).mayExpire('h')).toBe(true);
  });

  it('names, for the log, each holder it expires for silence: how long, whether linked, the lag', () => {
    const others = { a: NOW - 100, b: NOW, c: NOW - 50 };
    const p = pass({ ...others, h: NOW - 5_000, t: NOW - 200, s: NOW - 4_000 }, ['s']);
    expect([p.mayExpire('h'), p.mayExpire('t'), p.mayExpire('s')]).toEqual([true, true, false]);
    // t lapsed by a timeout (heard lately) and s is kept: neither is named.
    expect([...p.silentHolders.keys()]).toEqual(['h']);
    expect(p.silentHolders.get('h')).toMatchObject({ silenceMs: 5_000, linked: false });
  });

  it('writes no expiry while this replica does not hear most of the peers it heard lately', () => {
    expect(pass({ a: NOW - 5_000, b: NOW - 5_000, c: NOW - 5_000, h: NOW - 20_000 }).mayExpire('h')).toBe(false);
  });
});
