// A connection is closed when nothing has arrived on it for SILENT_MS, not because one ping was
// slow: a busy peer that still sends keeps its connection, a dead link is closed within
// SILENT_MS + CHECK_MS, and this process's own stall does not count as the link's silence.
import { describe, expect, it } from 'vitest';
import { isMeshError } from '@agentmesh/scheduler';
import { SilentLinks, SILENT_MS, CHECK_MS } from '../src/net/silent-links.js';
import { ManualClock } from './manual-clock.js';

function fakeConn(name: string) {
  const socket = { bytesRead: 0 };
  const aborts: unknown[] = [];
  const listeners: (() => void)[] = [];
  const conn = {
    remoteAddr: { toString: () => `/ip4/127.0.0.1/tcp/${name}` },
    abort: (e: unknown) => {
      aborts.push(e);
      for (const l of listeners) l();
    },
    addEventListener: (_: string, l: () => void) => listeners.push(l),
  };
  return { socket, aborts, conn, close: () => listeners.forEach((l) => l()) };
}

function links(clock: ManualClock): SilentLinks {
  return new SilentLinks({ clock, log: { log: () => {} } as never });
}

describe('silent links', () => {
  it('keeps a connection that receives bytes, closes one that receives nothing for SILENT_MS', () => {
    const clock = new ManualClock();
    const s = links(clock);
    s.start();
    const busy = fakeConn('1');
    const dead = fakeConn('2');
    s.track(busy.conn as never, busy.socket);
    s.track(dead.conn as never, dead.socket);
    // The busy peer sends something every 15 s (slower than any ping timeout would allow).
    for (let t = 0; t < 60_000; t += 15_000) {
      busy.socket.bytesRead += 100;
      clock.advance(15_000);
    }
    expect(busy.aborts).toHaveLength(0);
    expect(dead.aborts).toHaveLength(1);
    expect(isMeshError(dead.aborts[0], 'TIMEOUT')).toBe(true);
    expect(s.aborted).toBe(1);
    s.stop();
  });

  it('closes a dead link within SILENT_MS + CHECK_MS, and only once', () => {
    const clock = new ManualClock();
    const s = links(clock);
    s.start();
    const dead = fakeConn('3');
    s.track(dead.conn as never, dead.socket);
    clock.advance(SILENT_MS - CHECK_MS);
    expect(dead.aborts).toHaveLength(0);
    clock.advance(2 * CHECK_MS);
    expect(dead.aborts).toHaveLength(1);
    clock.advance(10 * CHECK_MS);
    expect(dead.aborts).toHaveLength(1);
    s.stop();
  });

  it('does not count its own stall as silence, nor watch a closed connection', () => {
    const clock = new ManualClock();
    const s = links(clock);
    const a = fakeConn('4');
    const b = fakeConn('5');
    s.track(a.conn as never, a.socket);
    s.track(b.conn as never, b.socket);
    clock.t += CHECK_MS;
    s.check();
    // The process stalls for 25 s: no check runs, nothing is read; the first check after it is late.
    clock.t += 25_000;
    s.check();
    expect(a.aborts).toHaveLength(0);
    // What arrived during the stall is read now: the link was alive.
    a.socket.bytesRead += 10;
    b.close();
    clock.t += CHECK_MS;
    s.check();
    expect(a.aborts).toHaveLength(0);
    expect(b.aborts).toHaveLength(0);
    // Checks on time from here: a stays silent and is closed once SILENT_MS have passed.
    for (let i = 0; i < SILENT_MS / CHECK_MS + 1; i++) {
      clock.t += CHECK_MS;
      s.check();
    }
    expect(a.aborts).toHaveLength(1);
    expect(b.aborts).toHaveLength(0);
  });
});
